package programme

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/chat"
)

// waitFor bounds waits on events; tests never assert on timing.
const waitFor = 15 * time.Second

// t0 is 10:00 on the day of the tests.
var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// fakeClock is a Clock whose time moves only when the test says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     chan time.Time
	at    time.Time
	clock *fakeClock
	done  bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.now.Add(d), clock: c}
	if d <= 0 {
		t.done = true
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// set moves the clock to at and fires the timers due by then.
func (c *fakeClock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	c.fireLocked(at)
}

// setQuiet moves the clock without firing timers: what the organiser does
// "at" a moment the scheduler has not woken for yet.
func (c *fakeClock) setQuiet(at time.Time) {
	c.mu.Lock()
	c.now = at
	c.mu.Unlock()
}

func (c *fakeClock) fireLocked(at time.Time) {
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.done:
		case !t.at.After(at):
			t.done = true
			t.c <- at
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// fakeRooms are the chats: they record which stages were told of a change
// and hand out a canned chat log.
type fakeRooms struct {
	mu     sync.Mutex
	told   []string
	msgs   []chat.Message
	slides []chat.Slide
}

func (r *fakeRooms) TalkChanged(stage string) {
	r.mu.Lock()
	r.told = append(r.told, stage)
	r.mu.Unlock()
}

func (r *fakeRooms) ArchiveTalkLog(stage, talk string, since time.Time) ([]chat.Message, []chat.Slide, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var msgs []chat.Message
	for _, m := range r.msgs {
		if m.Talk == talk {
			msgs = append(msgs, m)
		}
	}
	var slides []chat.Slide
	for _, s := range r.slides {
		if s.Talk == talk {
			slides = append(slides, s)
		}
	}
	return msgs, slides, nil
}

type env struct {
	t     *testing.T
	clock *fakeClock
	store *archive.DirStore
	lib   *archive.Library
	rooms *fakeRooms
	dir   string
	p     *Programme
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{now: t0.Add(-time.Hour)}, rooms: &fakeRooms{}, dir: t.TempDir()}
	e.store = &archive.DirStore{Root: t.TempDir()}
	if err := e.store.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.lib = &archive.Library{Store: e.store, Log: slog.New(slog.DiscardHandler), Now: e.clock.Now}
	if err := e.lib.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	return e
}

// start initializes the programme (again, after a "restart").
func (e *env) start() *Programme {
	e.t.Helper()
	e.p = &Programme{
		Talks: e.lib, Rooms: e.rooms, Dir: e.dir, Clock: e.clock,
		Log: slog.New(slog.NewTextHandler(e.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := e.p.Initialize(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(e.p.Close)
	return e.p
}

func (e *env) talk(id string, from, to time.Duration, dnr bool) {
	e.t.Helper()
	if _, err := e.lib.Create(e.t.Context(), archive.Talk{
		ID: id, Title: id, Stage: "main", StartsAt: t0.Add(from), EndsAt: t0.Add(to), DoNotRecord: dnr,
	}); err != nil {
		e.t.Fatal(err)
	}
}

// at moves the clock and waits for the scheduler's pass.
func (e *env) at(d time.Duration) {
	e.t.Helper()
	e.clock.set(t0.Add(d))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := e.p.settle(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) live() string {
	t, ok := e.lib.LiveOn("main")
	if !ok {
		return ""
	}
	return t.ID
}

func (e *env) get(id string) archive.Talk {
	e.t.Helper()
	t, err := e.lib.Get(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

func (e *env) exists(key string) bool {
	rc, _, err := e.store.Get(e.t.Context(), key, 0, -1)
	if err != nil {
		return false
	}
	rc.Close()
	return true
}
