package programme

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/cluster"
	"github.com/salon/salon/internal/natstest"
)

// Two nodes' programmes over one bucket and one NATS server start two
// different talks of one stage at the same instant: exactly one goes live,
// the other is refused as on one node (ErrConflict, stage busy) until the
// live talk stops. A claim whose talk has ended (its node stopped before
// releasing it) is taken over; a fresh claim of a talk not yet live is not.
func TestProgramme_TwoNodesOneLiveTalkPerStage(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 1)
	a := newEnv(t)
	for _, id := range []string{"k1", "k2", "k3", "k4", "k5"} {
		a.talk(id, 0, time.Hour, false)
	}
	b := &env{t: t, clock: a.clock, store: a.store, rooms: &fakeRooms{}, dir: t.TempDir()}
	b.lib = &archive.Library{Store: a.store, Log: slog.New(slog.DiscardHandler), Now: a.clock.Now}
	if err := b.lib.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	claims := map[*env]*cluster.StageClaims{}
	for i, e := range []*env{a, b} {
		n := &cluster.Node{URLs: servers.URL(0), Name: []string{"a", "b"}[i], Log: slog.New(slog.DiscardHandler)}
		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		err := n.Initialize(ctx)
		if err == nil {
			claims[e], err = n.StageClaims(ctx)
		}
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		e.p = &Programme{Talks: e.lib, Rooms: e.rooms, Dir: e.dir, Clock: e.clock, StageClaims: claims[e],
			Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))}
		if err := e.p.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.p.Close)
	}
	ctx := t.Context()

	// At once: A starts k1, B starts k2 (each library sees no live talk).
	var wg sync.WaitGroup
	ready := make(chan struct{})
	errs := make([]error, 2)
	for i, e := range []*env{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			_, errs[i] = e.p.Start(ctx, []string{"k1", "k2"}[i])
		}()
	}
	close(ready)
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("A's start of k1: %v; B's start of k2: %v; want exactly one to succeed", errs[0], errs[1])
	}
	win, lose, winID, loseID, loseErr := a, b, "k1", "k2", errs[1]
	if errs[0] != nil {
		win, lose, winID, loseID, loseErr = b, a, "k2", "k1", errs[0]
	}
	busy := "talk \"" + winID + "\" is live on stage main; stop it first"
	if !errors.Is(loseErr, archive.ErrConflict) || !strings.Contains(loseErr.Error(), busy) {
		t.Fatalf("refused start: %v; want ErrConflict %q, as on one node", loseErr, busy)
	}
	if got := lose.get(loseID); got.Recording != nil {
		t.Fatalf("refused talk %s was written: %+v", loseID, got.Recording)
	}
	if _, err := lose.p.Start(ctx, loseID); !errors.Is(err, archive.ErrConflict) {
		t.Fatalf("start of %s again while %s is live: %v, want ErrConflict", loseID, winID, err)
	}

	// The live talk stops: its stage is free for the other node's talk.
	a.clock.set(t0.Add(time.Minute))
	if _, err := win.p.Stop(ctx, winID); err != nil {
		t.Fatal(err)
	}
	if _, err := lose.p.Start(ctx, loseID); err != nil {
		t.Fatalf("start of %s after %s stopped: %v", loseID, winID, err)
	}
	a.clock.set(t0.Add(2 * time.Minute))
	if _, err := lose.p.Stop(ctx, loseID); err != nil {
		t.Fatal(err)
	}

	// A node that stopped k1 but crashed before releasing: the claim of an
	// ended talk is taken over.
	if holder, err := claims[a].Claim(ctx, "main", "k1", func(string, time.Duration) bool { return true }); err != nil || holder != "" {
		t.Fatalf("test's claim of main for k1: holder %q, %v", holder, err)
	}
	if _, err := b.p.Start(ctx, "k3"); err != nil {
		t.Fatalf("start of k3 over the ended k1's claim: %v", err)
	}
	a.clock.set(t0.Add(3 * time.Minute))
	if _, err := b.p.Stop(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	// A node crashed after claiming for k4, before writing talk.json: a
	// claim that young may be a start under way, so it is kept.
	if holder, err := claims[a].Claim(ctx, "main", "k4", func(string, time.Duration) bool { return true }); err != nil || holder != "" {
		t.Fatalf("test's claim of main for k4: holder %q, %v", holder, err)
	}
	if _, err := b.p.Start(ctx, "k5"); !errors.Is(err, archive.ErrConflict) || !strings.Contains(err.Error(), `talk "k4" is live`) {
		t.Fatalf("start over a fresh claim of k4: %v, want ErrConflict", err)
	}
}
