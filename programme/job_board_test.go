package programme

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/cluster"
	"github.com/salon/salon/internal/natstest"
	"github.com/salon/salon/web/chat"
)

// fakeBoard records what a programme posts and takes off.
type fakeBoard struct {
	mu     sync.Mutex
	calls  []string // "post talk" / "done talk"
	posted map[string]Job
}

func (b *fakeBoard) Post(_ context.Context, talk string, job []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var j Job
	if err := json.Unmarshal(job, &j); err != nil {
		return err
	}
	if b.posted == nil {
		b.posted = map[string]Job{}
	}
	b.posted[talk] = j
	b.calls = append(b.calls, "post "+talk)
	return nil
}

func (b *fakeBoard) Done(_ context.Context, talk string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.posted, talk)
	b.calls = append(b.calls, "done "+talk)
	return nil
}

func (b *fakeBoard) log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.calls, ", ")
}

// A stop posts its job on the board (the job as spooled) before the job
// runs, and the job is taken off once done; a stop that fails takes it off
// too.
func TestProgramme_JobOnBoard(t *testing.T) {
	e := newEnv(t)
	e.talk("a", 0, 30*m, true) // do_not_record: its job is done at once
	board := &fakeBoard{}
	e.p = &Programme{Talks: e.lib, Rooms: e.rooms, Dir: e.dir, Clock: e.clock, Board: board, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	if err := e.p.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.p.Close)
	e.clock.set(t0)
	mustStart(e, "a")
	e.clock.setQuiet(t0.Add(10 * m))
	mustStop(e, "a")
	waitJobs(t, e.p)
	if got := board.log(); got != "post a, done a" {
		t.Fatalf("board: %s, want the job posted, then done", got)
	}
	if _, err := e.p.Stop(t.Context(), "a"); !errors.Is(err, archive.ErrConflict) {
		t.Fatalf("stop of a stopped talk: %v", err)
	}
	if got := board.log(); got != "post a, done a" {
		t.Fatalf("board after a refused stop: %s, want nothing posted", got)
	}
}

// A node adopts the job of a node that died between spooling the job and
// saving the stop: the talk is read again from the bucket, stopped at the
// time asked, its chat saved from this node's rooms (the cluster's log),
// and the job is taken off the board.
func TestProgramme_AdoptFinishesStop(t *testing.T) {
	dead := newEnv(t)
	dead.talk("k", 0, 30*m, false)
	started, err := dead.lib.Start(t.Context(), "k", t0)
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(20 * m)
	job, _ := json.Marshal(Job{Talk: "k", Stage: "main", Start: started.Recording.Start, End: end, Created: end})

	b := &env{t: t, clock: dead.clock, store: dead.store, rooms: &fakeRooms{}, dir: t.TempDir()}
	b.lib = &archive.Library{Store: dead.store, Log: slog.New(slog.DiscardHandler), Now: b.clock.Now}
	if err := b.lib.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.rooms.msgs = []chat.Message{{ID: "m1", Talk: "k", Name: "Ada", Text: "acknowledged on the dead node", Time: t0.Add(m)}}
	board := &fakeBoard{}
	b.clock.set(end.Add(time.Hour)) // past FinalWait: no recording is stored
	b.p = &Programme{Talks: b.lib, Rooms: b.rooms, Dir: b.dir, Clock: b.clock, Board: board, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	if err := b.p.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.p.Close)
	if err := b.p.Adopt([]byte(`{"talk":"../x"}`)); !errors.Is(err, archive.ErrInvalid) {
		t.Fatalf("adopt of a job with a bad talk id: %v", err)
	}
	if err := b.p.Adopt(job); err != nil {
		t.Fatal(err)
	}
	waitJobs(t, b.p)
	tk := b.get("k")
	if !tk.HasEnded() || !tk.Recording.End.Equal(end) {
		t.Fatalf("talk recording %+v, want stopped at %v", tk.Recording, end)
	}
	if got := readKey(t, b.store, archive.ChatKey("k")); !strings.Contains(got, "acknowledged on the dead node") {
		t.Fatalf("chat.jsonl: %q", got)
	}
	if got := board.log(); got != "done k" {
		t.Fatalf("board: %s, want the adopted job taken off", got)
	}
}

func readKey(t *testing.T, s archive.Store, key string) string {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// failingRooms cannot read the chat: a node whose job is stuck.
type failingRooms struct{ fakeRooms }

func (*failingRooms) ArchiveTalkLog(string, string, time.Time) ([]chat.Message, []chat.Slide, error) {
	return nil, nil, errors.New("chat unreadable")
}

// Two nodes over one bucket and a real NATS server. Node A stops a talk;
// its job cannot finish (its chat is unreadable) and A dies: its board
// stops renewing. Node B takes the job over once A's claim lapsed, saves
// the chat from its own rooms and takes the job off the board.
func TestProgramme_JobTakenOver(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 1)
	a := newEnv(t)
	a.talk("k", 0, 30*m, false)
	b := &env{t: t, clock: a.clock, store: a.store, rooms: &fakeRooms{}, dir: t.TempDir()}
	b.lib = &archive.Library{Store: a.store, Log: slog.New(slog.DiscardHandler), Now: a.clock.Now}
	if err := b.lib.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.rooms.msgs = []chat.Message{{ID: "m1", Talk: "k", Name: "Ada", Text: "from the cluster's log", Time: t0.Add(m)}}
	const ttl = 2 * time.Second
	boards := map[*env]*cluster.Jobs{}
	for i, e := range []*env{a, b} {
		n := &cluster.Node{URLs: servers.URL(0), Name: []string{"a", "b"}[i], Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		err := n.Initialize(ctx)
		if err == nil {
			boards[e], err = n.JobBoard(ctx, ttl)
		}
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		t.Cleanup(boards[e].Close)
		var rooms chatRooms = e.rooms
		if e == a {
			rooms = &failingRooms{}
		}
		e.p = &Programme{Talks: e.lib, Rooms: rooms, Dir: e.dir, Clock: e.clock, Board: boards[e],
			Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))}
		if err := e.p.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.p.Close)
	}
	adopted := make(chan struct{})
	var once sync.Once
	if err := boards[b].Watch(func(talk string, job []byte) {
		if err := b.p.Adopt(job); err != nil {
			t.Error(err)
		}
		once.Do(func() { close(adopted) })
	}); err != nil {
		t.Fatal(err)
	}

	a.clock.set(t0)
	mustStart(a, "k")
	a.clock.setQuiet(t0.Add(10 * m))
	mustStop(a, "k")
	ctx := t.Context()
	if owner, err := boards[b].Owner(ctx, "k"); err != nil || owner != "a" {
		t.Fatalf("job owner after A's stop: %q %v, want a", owner, err)
	}
	// Past FinalWait (no recording is stored), before B can take the job.
	a.clock.setQuiet(t0.Add(time.Hour))
	// A dies: its board stops renewing, its programme stops working.
	boards[a].Close()
	a.p.Close()
	select {
	case <-adopted:
	case <-time.After(waitFor):
		t.Fatal("node B never took the job over")
	}
	waitJobs(t, b.p)
	if got := readKey(t, b.store, archive.ChatKey("k")); !strings.Contains(got, "from the cluster's log") {
		t.Fatalf("chat.jsonl: %q", got)
	}
	if owner, err := boards[b].Owner(ctx, "k"); err != nil || owner != "" {
		t.Fatalf("job owner after B did it: %q %v, want none (deleted)", owner, err)
	}
}
