package chat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A journal is a stage's chat on local disk: every message, every change to
// one (deleted, votes, answered) and every ban, appended as one JSON line.
// Appends only fill a buffer; a flusher writes and fsyncs it at most
// flushEvery apart, so posting never waits on the disk and a crash loses at
// most the last batch. On start the hub replays the journal, so history,
// moderation and the talks' chat survive a restart.

// defaultFlushEvery is the batch interval. The bound is one second
// of loss; half that leaves room for the write and fsync themselves.
const defaultFlushEvery = 500 * time.Millisecond

// maxJournalBuffer bounds what waits in memory while the disk fails (full,
// read-only): past it, the oldest unwritten records are dropped, loudly.
const maxJournalBuffer = 16 << 20

// maxJournalLine bounds one record when reading back: messages are 500
// characters, so anything near this is corruption.
const maxJournalLine = 64 << 10

// journalRecord is one line: exactly one of its fields is set.
type journalRecord struct {
	Msg *Message `json:"msg,omitempty"`
	// The author's address and viewer key, with a message's first record,
	// so that banning its author works after a restart.
	IP     string `json:"ip,omitempty"`
	Viewer string `json:"viewer,omitempty"`
	// Voters, with the record of a vote, are the voter's hashed keys
	// (votes.go), so one viewer's vote stays one vote after a restart.
	Voters []string    `json:"voters,omitempty"`
	Ban    *banRecord  `json:"ban,omitempty"`
	Slow   *slowRecord `json:"slow_mode,omitempty"`
	Slide  *Slide      `json:"slide,omitempty"`
	// OnScreen is the question the organiser put on the room's screen
	// (hub_onscreen.go).
	OnScreen *onScreenRecord `json:"onscreen,omitempty"`
}

// banRecord is a ban as the journal keeps it.
type banRecord struct {
	Client string    `json:"client,omitempty"`
	Viewer string    `json:"viewer,omitempty"`
	IP     string    `json:"ip,omitempty"`
	Time   time.Time `json:"ts"`
}

// slowRecord is a slow-mode change.
type slowRecord struct {
	Seconds float64 `json:"seconds"`
}

type journal struct {
	path  string
	every time.Duration
	log   *slog.Logger

	f        *os.File
	mu       sync.Mutex // guards buf, failing
	buf      []byte
	failed   bool // the last write failed; logged once until it works again
	done     chan struct{}
	quit     chan struct{}
	once     sync.Once
	closeErr error
}

// openJournal opens (creating) the journal at path and returns what it
// holds, oldest first. A torn last line, as a crash leaves, is skipped.
func openJournal(path string, every time.Duration, log *slog.Logger) (*journal, []journalRecord, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("chat journal: create %s: %w (check -data is writable)", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("chat journal: open %s: %w (check -data is writable)", path, err)
	}
	recs, bad, err := readJournal(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("chat journal: read %s: %w", path, err)
	}
	if bad > 0 {
		log.Warn("chat journal has unreadable lines; skipped them", "path", path, "lines", bad)
	}
	if every <= 0 {
		every = defaultFlushEvery
	}
	j := &journal{
		path:  path,
		every: every,
		log:   log,
		f:     f,
		done:  make(chan struct{}),
		quit:  make(chan struct{}),
	}
	go j.run()
	return j, recs, nil
}

// readJournal reads every record; lines that do not decode are counted.
// A torn last line (no newline) is dropped; the next append starts a fresh
// line so it cannot glue onto it.
func readJournal(f *os.File) ([]journalRecord, int, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	var recs []journalRecord
	bad := 0
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Skip the rest of an overlong line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			bad++
			if err == nil {
				continue
			}
		}
		if err == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				bad++ // torn by a crash mid-write
			}
			return recs, bad, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec journalRecord
		if len(line) > maxJournalLine || json.Unmarshal(line, &rec) != nil || !rec.valid() {
			bad++
			continue
		}
		recs = append(recs, rec)
	}
}

func (r *journalRecord) valid() bool {
	switch {
	case r.OnScreen != nil:
		return r.Msg == nil && r.Ban == nil && r.Slow == nil && r.Slide == nil && len(r.OnScreen.ID) <= maxIDLen
	case r.Msg != nil:
		return r.Msg.ID != "" && r.Ban == nil && r.Slow == nil && r.Slide == nil
	case r.Ban != nil:
		return r.Slow == nil && r.Slide == nil
	case r.Slow != nil:
		return r.Slow.Seconds >= 0 && r.Slide == nil
	default:
		return r.Slide != nil && r.Slide.Page >= 1 && r.Slide.Talk != ""
	}
}

// append queues one record; it never blocks on the disk.
func (j *journal) append(rec journalRecord) {
	line, err := json.Marshal(rec)
	if err != nil {
		j.log.Error("chat journal: encode record", "err", err)
		return
	}
	j.mu.Lock()
	if len(j.buf) == 0 {
		// A crash may have left a torn line at the end of the file: start
		// each batch on a fresh line so it cannot glue onto it. Empty lines
		// are skipped when reading.
		j.buf = append(j.buf, '\n')
	}
	j.buf = append(j.buf, line...)
	j.buf = append(j.buf, '\n')
	if over := len(j.buf) - maxJournalBuffer; over > 0 {
		i := bytes.IndexByte(j.buf[over:], '\n')
		j.buf = append(j.buf[:0], j.buf[over+i+1:]...)
		j.log.Error("chat journal: disk writes keep failing; dropped the oldest unwritten messages", "path", j.path)
	}
	j.mu.Unlock()
}

// run writes and fsyncs the buffer every j.every until close.
func (j *journal) run() {
	defer close(j.done)
	t := time.NewTicker(j.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			j.flush()
		case <-j.quit:
			j.flush()
			return
		}
	}
}

// flush writes what is buffered and fsyncs it. On failure the data stays
// buffered for the next attempt.
func (j *journal) flush() {
	j.mu.Lock()
	data := j.buf
	j.buf = nil
	j.mu.Unlock()
	if len(data) == 0 {
		return
	}
	_, err := j.f.Write(data)
	if err == nil {
		err = j.f.Sync()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		// Keep the batch, ahead of what came meanwhile. A partly written
		// batch is written again whole: the reader takes the last record of
		// a message, and a repeated ban is harmless.
		j.buf = append(data, j.buf...)
		if !j.failed {
			j.log.Error("chat journal: write failed; messages are kept in memory and retried (check the disk under -data)", "path", j.path, "err", err)
			j.failed = true
		}
		return
	}
	if j.failed {
		j.log.Info("chat journal: writes work again", "path", j.path)
		j.failed = false
	}
}

// close flushes what is left and closes the file; later calls return the
// first call's result.
func (j *journal) close() error {
	j.once.Do(func() {
		close(j.quit)
		<-j.done
		j.mu.Lock()
		left := len(j.buf)
		j.mu.Unlock()
		j.closeErr = j.f.Close()
		if left > 0 {
			j.closeErr = fmt.Errorf("chat journal %s: %d bytes could not be written", j.path, left)
		}
	})
	return j.closeErr
}
