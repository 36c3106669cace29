// Package stats counts how the day went — viewers live and on replay, peak
// and per-minute viewers, downloads — per talk, per stage and for the day,
// without keeping personal data.
//
// Viewers reach the counter as 64-bit keys (web's keyed hash of address and
// viewer id). The counter hashes each key again with a salt made at random
// for the day and never written anywhere, and feeds that into HyperLogLog
// sketches (github.com/axiomhq/hyperloglog: sparse, so small counts are
// exact, and never more than 16 KiB each whatever the audience). Only the
// counts and the per-minute series are persisted, in Dir/{date}.json; the
// sketches and the salt die with the day or the process, so nothing read
// back later identifies anyone. The price: a viewer counted before a restart
// and again after it (or on two days) counts twice.
package stats

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"
)

// liveTalks says which talk is live on a stage; *programme.Programme
// satisfies it.
type liveTalks interface {
	OnStage(stage string) (id string, view any, ok bool)
}

// Clock is the counter's time; tests pass a fake one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

const (
	// DefaultFlushEvery is how often the day's numbers are written to disk.
	DefaultFlushEvery = 30 * time.Second
	// maxScopes bounds the talks and stages counted per day (ids reach the
	// counter only once web has found the talk, but the bound keeps memory
	// fixed whatever happens).
	maxScopes = 2000
	// dateLayout names a day.
	dateLayout = "2006-01-02"
)

// Counter counts the day. Create it with its parameters, call Initialize,
// then Close (which writes the day once more).
//
// Concurrency: mu guards cur, past and unsaved, and every sketch and series
// inside them; it is never held during file I/O. writeMu serialises the
// writes of the day files.
type Counter struct {
	// parameters

	// Dir holds one file per day, Dir/{date}.json (required), e.g.
	// DATA/stats.
	Dir string
	// Programme says which talk is live on each stage, so that live viewers
	// count for it. Optional: without it only stages and the day count.
	Programme liveTalks
	// Clock defaults to the wall clock.
	Clock Clock
	// Zone decides where a day begins and ends; default time.Local.
	Zone *time.Location
	// FlushEvery is how often the day is written; default
	// DefaultFlushEvery, negative for never (tests call Flush).
	FlushEvery time.Duration
	Log        *slog.Logger

	// private
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	writeMu sync.Mutex

	mu  sync.Mutex
	cur *dayState
	// prev is, per stage, the keys of the last Live sample and the talk
	// they counted for: a viewer still watching the same talk is not
	// inserted again (inserting costs ~1 µs in a sparse sketch; a map
	// lookup ~20 ns). It holds no more than web's own viewer table, only
	// in memory.
	prev    map[string]*lastSample
	past    map[string]Day // earlier days, read back or rolled over
	unsaved map[string]bool
	full    bool // maxScopes was reached today (logged once)
}

// Initialize reads the days kept in Dir (today's numbers go on from what a
// previous run wrote) and starts the periodic writes.
func (c *Counter) Initialize() error {
	if c.Dir == "" {
		return errors.New("stats: Dir is required (e.g. DATA/stats)")
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Zone == nil {
		c.Zone = time.Local
	}
	if c.FlushEvery == 0 {
		c.FlushEvery = DefaultFlushEvery
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.past = map[string]Day{}
	c.prev = map[string]*lastSample{}
	c.unsaved = map[string]bool{}
	days, err := c.load()
	if err != nil {
		return err
	}
	today := c.date(c.Clock.Now())
	for _, d := range days {
		if d.Date == today {
			c.cur = newDayState(d)
		} else {
			c.past[d.Date] = d
		}
	}
	if c.cur == nil {
		c.cur = newDayState(Day{Date: today})
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.FlushEvery > 0 {
		c.wg.Add(1)
		go c.run()
	}
	return nil
}

// Close stops the periodic writes and writes what is not yet on disk.
func (c *Counter) Close() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.wg.Wait()
	if err := c.Flush(); err != nil {
		c.Log.Error("stats: the last numbers of the day could not be written", "dir", c.Dir, "error", err)
	}
}

func (c *Counter) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.FlushEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			err := c.Flush()
			switch {
			case err != nil && !failing:
				c.Log.Error("stats: cannot write the day's numbers; they are kept in memory and retried", "dir", c.Dir, "error", err)
			case err == nil && failing:
				c.Log.Info("stats: the day's numbers are written again", "dir", c.Dir)
			}
			failing = err != nil
		}
	}
}

func (c *Counter) date(t time.Time) string { return t.In(c.Zone).Format(dateLayout) }

// dayLocked is today's state, rolling over to a new day (and a new salt)
// when the date changed. mu held.
func (c *Counter) dayLocked(now time.Time) *dayState {
	if d := c.date(now); d != c.cur.date {
		c.past[c.cur.date] = c.cur.snapshot()
		c.unsaved[c.cur.date] = true
		c.cur = newDayState(Day{Date: d})
		c.full = false
		clear(c.prev) // a new salt: everyone counts again
	}
	return c.cur
}

// Live records one moment of live viewing: the viewer keys of each stage
// now (a stage absent has none). web calls it every few seconds; the keys
// are not kept.
func (c *Counter) Live(stages map[string][]uint64) {
	talks := make(map[string]string, len(stages))
	if c.Programme != nil {
		for stage := range stages {
			if id, _, ok := c.Programme.OnStage(stage); ok {
				talks[stage] = id
			}
		}
	}
	now := c.Clock.Now()
	minute := now.Truncate(time.Minute).Unix()
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dayLocked(now)
	total := 0
	for stage, keys := range stages {
		st := c.scopeLocked(d, d.stages, stage)
		var tk *scope
		if id := talks[stage]; id != "" {
			tk = c.scopeLocked(d, d.talks, id)
		}
		last := c.prev[stage]
		if last == nil {
			last = &lastSample{keys: map[uint64]struct{}{}, next: map[uint64]struct{}{}}
			c.prev[stage] = last
		}
		if last.talk != talks[stage] {
			clear(last.keys)
			last.talk = talks[stage]
		}
		for _, k := range keys {
			last.next[k] = struct{}{}
			if _, seen := last.keys[k]; seen {
				continue
			}
			h := d.hash(k, "")
			d.all.sketch(&d.all.live).InsertHash(h)
			if st != nil {
				st.sketch(&st.live).InsertHash(h)
			}
			if tk != nil {
				tk.sketch(&tk.live).InsertHash(h)
			}
		}
		last.keys, last.next = last.next, last.keys
		clear(last.next)
		st.observe(len(keys), now, minute)
		tk.observe(len(keys), now, minute)
		total += len(keys)
	}
	for stage := range c.prev {
		if _, ok := stages[stage]; !ok {
			delete(c.prev, stage)
		}
	}
	d.all.observe(total, now, minute)
	d.dirty = true
}

// lastSample is one stage's previous Live sample.
type lastSample struct {
	talk       string
	keys, next map[uint64]struct{}
}

// Replay records that viewer fetched talk's replay playlist.
func (c *Counter) Replay(talk string, viewer uint64) {
	c.record(talk, viewer, "", func(s *scope) **hyperloglog.Sketch { return &s.replay })
}

// SlideDownload records that viewer fetched one of talk's slide files.
func (c *Counter) SlideDownload(talk, file string, viewer uint64) {
	c.record(talk, viewer, "slides/"+file, func(s *scope) **hyperloglog.Sketch { return &s.slides })
}

// MP4Download records that viewer downloaded talk's MP4.
func (c *Counter) MP4Download(talk string, viewer uint64) {
	c.record(talk, viewer, "mp4", func(s *scope) **hyperloglog.Sketch { return &s.mp4 })
}

func (c *Counter) record(talk string, viewer uint64, what string, which func(*scope) **hyperloglog.Sketch) {
	now := c.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dayLocked(now)
	h := d.hash(viewer, what)
	d.all.sketch(which(&d.all)).InsertHash(h)
	if tk := c.scopeLocked(d, d.talks, talk); tk != nil {
		tk.sketch(which(tk)).InsertHash(h)
	}
	d.dirty = true
}

// scopeLocked is the scope of id in m, made on first use; nil when the day
// already counts maxScopes talks and stages. mu held.
func (c *Counter) scopeLocked(d *dayState, m map[string]*scope, id string) *scope {
	if s := m[id]; s != nil {
		return s
	}
	if len(d.stages)+len(d.talks) >= maxScopes {
		if !c.full {
			c.full = true
			c.Log.Warn("stats: too many talks and stages today; new ones are counted only in the day's totals", "max", maxScopes)
		}
		return nil
	}
	s := &scope{}
	m[id] = s
	return s
}

// DateOf is the day t falls on in the counter's zone, "2006-01-02".
func (c *Counter) DateOf(t time.Time) string { return c.date(t) }

// Today is today's date in the counter's zone.
func (c *Counter) Today() string { return c.date(c.Clock.Now()) }

// Day is the numbers of date ("" for today); false when nothing was
// counted that day.
func (c *Counter) Day(date string) (Day, bool) {
	now := c.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dayLocked(now)
	if date == "" || date == d.date {
		return d.snapshot(), true
	}
	p, ok := c.past[date]
	return p, ok
}

// Days are the dates with numbers, oldest first, today included.
func (c *Counter) Days() []string {
	now := c.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dayLocked(now)
	out := make([]string, 0, len(c.past)+1)
	for date := range c.past {
		out = append(out, date)
	}
	out = append(out, d.date)
	slices.Sort(out)
	return out
}

// Talk is a talk's numbers over every day kept (a replay is watched on
// the days after the talk too).
func (c *Counter) Talk(id string) Totals {
	now := c.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dayLocked(now)
	var t Totals
	for _, p := range c.past {
		if pt, ok := p.Talks[id]; ok {
			t = t.add(pt)
		}
	}
	if s := d.talks[id]; s != nil {
		t = t.add(s.totals())
	}
	if t.Viewers == nil {
		t.Viewers = []Point{}
	}
	return t
}

// dayState is today while it is counted. Its fields are guarded by the
// Counter's mu.
type dayState struct {
	date string
	// seed is the day's salt: made at random, never written, gone with the
	// day.
	seed   maphash.Seed
	all    scope
	stages map[string]*scope
	talks  map[string]*scope
	dirty  bool
}

func newDayState(from Day) *dayState {
	d := &dayState{date: from.Date, seed: maphash.MakeSeed(), stages: map[string]*scope{}, talks: map[string]*scope{}}
	d.all.base = from.Totals
	for k, t := range from.Stages {
		d.stages[k] = &scope{base: t}
	}
	for k, t := range from.Talks {
		d.talks[k] = &scope{base: t}
	}
	return d
}

// hash is the day's salted hash of a viewer key and what it fetched.
func (d *dayState) hash(viewer uint64, what string) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], viewer)
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.Write(b[:])
	h.WriteString(what)
	return h.Sum64()
}

func (d *dayState) snapshot() Day {
	out := Day{Date: d.date, Totals: d.all.totals(), Stages: make(map[string]Totals, len(d.stages)), Talks: make(map[string]Totals, len(d.talks))}
	for k, s := range d.stages {
		out.Stages[k] = s.totals()
	}
	for k, s := range d.talks {
		out.Talks[k] = s.totals()
	}
	return out
}

// scope counts one talk, one stage or the day.
type scope struct {
	// base is what an earlier run of salon wrote for this day.
	base                      Totals
	live, replay, slides, mp4 *hyperloglog.Sketch
	peak                      int
	peakAt                    time.Time
	series                    map[int64]int // minute (Unix seconds) → most viewers at once
}

// sketch returns *p, made on first use.
func (s *scope) sketch(p **hyperloglog.Sketch) *hyperloglog.Sketch {
	if *p == nil {
		*p = hyperloglog.New14()
	}
	return *p
}

// observe records n viewers at once at now (in minute). Safe on nil.
func (s *scope) observe(n int, now time.Time, minute int64) {
	if s == nil {
		return
	}
	if n > s.peak {
		s.peak, s.peakAt = n, now.UTC()
	}
	if n == 0 {
		return
	}
	if s.series == nil {
		s.series = map[int64]int{}
	}
	s.series[minute] = max(s.series[minute], n)
}

func estimate(sk *hyperloglog.Sketch) int {
	if sk == nil {
		return 0
	}
	return int(sk.Estimate())
}

func (s *scope) totals() Totals {
	t := Totals{
		LiveViewersUnique:   estimate(s.live),
		LiveViewersPeak:     s.peak,
		LiveViewersPeakAt:   s.peakAt,
		ReplayViewersUnique: estimate(s.replay),
		DownloadsSlides:     estimate(s.slides),
		DownloadsMP4:        estimate(s.mp4),
		Viewers:             seriesOf(s.series),
	}
	return s.base.add(t)
}
