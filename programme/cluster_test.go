package programme

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salon/salon/archive"
)

// fakeLeader is a node's leadership, switched by the test.
type fakeLeader struct{ on atomic.Bool }

func (l *fakeLeader) Leading() bool { return l.on.Load() }

// Two nodes' programmes over one bucket: only the leader's schedule starts
// and stops talks; the other node reads those changes (Refresh) without
// telling its viewers again (the leader did, through the shared chat log);
// when the lead moves, the new leader's schedule takes the day over.
func TestProgramme_TwoNodesOneSchedule(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	a.talk("k1", 0, 30*time.Minute, false)
	a.talk("k2", 30*time.Minute, time.Hour, false)
	b := &env{t: t, clock: a.clock, store: a.store, rooms: &fakeRooms{}, dir: t.TempDir()}
	b.lib = &archive.Library{Store: a.store, Log: slog.New(slog.DiscardHandler), Now: a.clock.Now}
	if err := b.lib.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	var la, lb fakeLeader
	la.on.Store(true)
	for _, e := range []*env{a, b} {
		e.p = &Programme{Talks: e.lib, Rooms: e.rooms, Dir: e.dir, Clock: e.clock, Leader: &lb,
			Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))}
		if e == a {
			e.p.Leader = &la
		}
		if err := e.p.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.p.Close)
		if err := e.p.SetAuto("main", true); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	refresh := func(e *env, id string) {
		t.Helper()
		if err := e.p.Refresh(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := e.p.settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	told := func(e *env) int {
		e.rooms.mu.Lock()
		defer e.rooms.mu.Unlock()
		return len(slices.DeleteFunc(slices.Clone(e.rooms.told), func(s string) bool { return s != "main" }))
	}

	// 10:01: the leader A starts k1; B, not leading, starts nothing.
	a.clock.set(t0.Add(time.Minute))
	for _, e := range []*env{a, b} {
		if err := e.p.settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if a.live() != "k1" || told(a) != 1 {
		t.Fatalf("leader: live %q, told %d times; want k1, once", a.live(), told(a))
	}
	if got, _ := b.lib.Get("k1"); got.Recording != nil {
		t.Fatalf("B wrote or read a start before hearing of it: %+v", got.Recording)
	}
	refresh(b, "k1")
	if b.live() != "k1" || told(b) != 0 {
		t.Fatalf("B after Refresh: live %q, told %d times; want k1 and no telling (A told)", b.live(), told(b))
	}
	if d := b.p.Day(); len(d) != 1 || d[0].Live == nil || d[0].Live.ID != "k1" {
		t.Fatalf("B's day: %+v", d)
	}

	// The lead moves to B; at 10:30 B's schedule stops k1 and starts k2.
	la.on.Store(false)
	lb.on.Store(true)
	a.p.LeaderChanged()
	b.p.LeaderChanged()
	a.clock.set(t0.Add(30 * time.Minute))
	for _, e := range []*env{a, b} {
		if err := e.p.settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if b.live() != "k2" || told(b) != 1 {
		t.Fatalf("new leader B: live %q, told %d; want k2, once", b.live(), told(b))
	}
	if got := a.get("k2"); got.Recording != nil {
		t.Fatalf("A, no longer leading, acted: %+v", got.Recording)
	}
	refresh(a, "k1")
	refresh(a, "k2")
	if a.live() != "k2" || told(a) != 1 {
		t.Fatalf("A after Refresh: live %q, told %d; want k2 and no more telling", a.live(), told(a))
	}
	if k1 := a.get("k1"); k1.Recording == nil || k1.Recording.End == nil {
		t.Fatalf("A's k1 after Refresh: %+v, want stopped", k1.Recording)
	}
}
