package stats

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	// maxDayFile bounds what is read of one day file (a day of minutes for
	// hundreds of talks is well under this).
	maxDayFile = 16 << 20
	// keepDays bounds how many days are read back at start.
	keepDays = 400
)

// Flush writes today (when it changed) and any day that rolled over since
// the last write to Dir/{date}.json: write to a temporary file, fsync,
// rename, so a crash leaves the old file or the new one.
func (c *Counter) Flush() error {
	c.mu.Lock()
	var days []Day
	for date := range c.unsaved {
		days = append(days, c.past[date])
	}
	clear(c.unsaved)
	if c.cur.dirty {
		days = append(days, c.cur.snapshot())
		c.cur.dirty = false
	}
	c.mu.Unlock()
	if len(days) == 0 {
		return nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	var failed []Day
	var firstErr error
	for _, d := range days {
		if err := c.write(d); err != nil {
			failed = append(failed, d)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if len(failed) > 0 {
		// Try again next time: mark the days unsaved (today: dirty).
		c.mu.Lock()
		for _, d := range failed {
			if d.Date == c.cur.date {
				c.cur.dirty = true
			} else {
				c.unsaved[d.Date] = true
			}
		}
		c.mu.Unlock()
	}
	return firstErr
}

func (c *Counter) write(d Day) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w (check -data)", c.Dir, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode the numbers of %s: %w", d.Date, err)
	}
	name := filepath.Join(c.Dir, d.Date+".json")
	tmp, err := os.CreateTemp(c.Dir, ".tmp-"+d.Date+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing left to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("rename into %s: %w", name, err)
	}
	return nil
}

// load reads the newest keepDays day files in Dir. A file that does not
// decode is skipped with a warning: it holds only counts, and the day goes
// on without them rather than not at all.
func (c *Counter) load() ([]Day, error) {
	entries, err := os.ReadDir(c.Dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stats: read %s: %w (check -data)", c.Dir, err)
	}
	var names []string
	for _, e := range entries {
		date, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if _, err := time.Parse(dateLayout, date); err != nil {
			continue
		}
		names = append(names, date)
	}
	slices.Sort(names)
	if len(names) > keepDays {
		names = names[len(names)-keepDays:]
	}
	var days []Day
	for _, date := range names {
		d, err := readDay(filepath.Join(c.Dir, date+".json"))
		if err != nil || d.Date != date {
			c.Log.Warn("stats: a day file is unreadable and is skipped; its numbers start again from zero", "file", filepath.Join(c.Dir, date+".json"), "error", err)
			continue
		}
		days = append(days, d)
	}
	return days, nil
}

func readDay(name string) (Day, error) {
	f, err := os.Open(name)
	if err != nil {
		return Day{}, err
	}
	defer f.Close()
	var d Day
	dec := json.NewDecoder(&limitedReader{f: f, n: maxDayFile})
	if err := dec.Decode(&d); err != nil {
		return Day{}, err
	}
	if d.Stages == nil {
		d.Stages = map[string]Totals{}
	}
	if d.Talks == nil {
		d.Talks = map[string]Totals{}
	}
	return d, nil
}

// limitedReader fails (rather than ends) past n bytes, so that a file cut
// at the limit is not read as a shorter valid one.
type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("larger than %d bytes", maxDayFile)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}
