package programme

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/salon/salon/archive"
)

const m = time.Minute

// step moves the clock to at (from 10:00), after doing do, and checks which
// talk is live on stage main then and which have ended.
type step struct {
	at    time.Duration
	do    func(e *env)
	live  string
	ended []string
}

type talkDef struct {
	id       string
	from, to time.Duration
	dnr      bool
}

// TestProgramme_Scheduler drives days in auto mode with a fake clock.
func TestProgramme_Scheduler(t *testing.T) {
	ab := []talkDef{{"a", 0, 30 * m, false}, {"b", 30 * m, 60 * m, false}}
	cases := []struct {
		name   string
		talks  []talkDef
		autoAt time.Duration // auto is switched on at 10:00 + autoAt
		steps  []step
		check  func(e *env)
	}{
		{
			name: "auto start and stop", talks: ab, autoAt: -30 * m,
			steps: []step{
				{at: -1 * m, live: ""},
				{at: 0, live: "a"},
				{at: 29 * m, live: "a"},
				{at: 30 * m, live: "b", ended: []string{"a"}},
				{at: 89 * m, live: "b"}, // overrunning: kept up to its end + 30 min
				{at: 90 * m, live: "", ended: []string{"a", "b"}},
			},
			check: func(e *env) {
				if end := e.get("a").Recording.End; !end.Equal(t0.Add(30 * m)) {
					t.Errorf("a stopped at %v, want at b's start", end)
				}
			},
		},
		{
			name: "manual stop is not undone", talks: ab, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				{at: 10 * m, do: func(e *env) { mustStop(e, "a") }, live: "", ended: []string{"a"}},
				{at: 20 * m, live: ""},
				{at: 30 * m, live: "b"},
			},
		},
		{
			name: "manual start is not cut", talks: ab, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				// Next by hand at 10:10: a stops, b starts early.
				{at: 10 * m, do: func(e *env) { mustNext(e) }, live: "b", ended: []string{"a"}},
				{at: 30 * m, live: "b"}, // its own start time does not touch it
				{at: 2 * time.Hour, live: "b"},
			},
		},
		{
			name:  "a hand start is stopped by the next scheduled start",
			talks: []talkDef{{"a", 0, 30 * m, false}, {"b", 30 * m, 60 * m, false}}, autoAt: -30 * m,
			steps: []step{
				{at: -20 * m, do: func(e *env) { mustStart(e, "a") }, live: "a"},
				{at: 0, live: "a"},
				{at: 30 * m, live: "b", ended: []string{"a"}},
			},
		},
		{
			name:  "overrun keeps recording until the next start",
			talks: []talkDef{{"a", 0, 30 * m, false}, {"b", 50 * m, 80 * m, false}}, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				{at: 45 * m, live: "a"},
				{at: 50 * m, live: "b", ended: []string{"a"}},
			},
		},
		{
			name:  "overrun limit with a long break",
			talks: []talkDef{{"a", 0, 30 * m, false}, {"b", 3 * time.Hour, 4 * time.Hour, false}}, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				{at: 59 * m, live: "a"},
				{at: 60 * m, live: "", ended: []string{"a"}},
				{at: 3 * time.Hour, live: "b"},
			},
		},
		{
			name: "delayed talk", talks: ab, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				{at: 20 * m, do: func(e *env) { move(e, "b", 45*m, 75*m) }, live: "a"},
				{at: 30 * m, live: "a"},
				{at: 44 * m, live: "a"},
				{at: 45 * m, live: "b", ended: []string{"a"}},
			},
		},
		{
			name:  "do_not_record is on stage but never cut",
			talks: []talkDef{{"a", 0, 30 * m, true}, {"b", 30 * m, 60 * m, false}}, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				{at: 30 * m, live: "b", ended: []string{"a"}},
			},
			check: func(e *env) {
				for _, key := range []string{archive.TalkPlaylistKey("a"), archive.ChatKey("a")} {
					if e.exists(key) {
						t.Errorf("do_not_record talk: %s written", key)
					}
				}
				if !e.exists(archive.TalkPlaylistKey("b")) {
					t.Errorf("the recorded talk has no replay playlist")
				}
			},
		},
		{
			name:  "removed talk",
			talks: []talkDef{{"a", 0, 30 * m, false}, {"b", 30 * m, 60 * m, false}, {"c", 60 * m, 90 * m, false}}, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				{at: 15 * m, do: func(e *env) {
					if err := e.lib.Delete(context.Background(), "b"); err != nil {
						t.Fatal(err)
					}
				}, live: "a"},
				{at: 30 * m, live: "a"},
				{at: 60 * m, live: "c", ended: []string{"a"}},
			},
		},
		{
			name:  "auto on mid-slot starts the current talk, skips the past",
			talks: []talkDef{{"a", -60 * m, -30 * m, false}, {"b", 0, 30 * m, false}}, autoAt: 10 * m,
			steps: []step{
				{at: 5 * m, live: ""}, // auto still off
				{at: 10 * m, live: "b"},
			},
			check: func(e *env) {
				if e.get("a").Recording != nil {
					t.Error("a talk whose slot had passed was started")
				}
			},
		},
		{
			name:  "a stop and a start the organiser made at the schedule's moment",
			talks: ab, autoAt: -30 * m,
			steps: []step{
				{at: 0, live: "a"},
				{at: 30 * m, do: func(e *env) {
					// The organiser is quicker than the schedule's pass.
					mustNext(e)
				}, live: "b", ended: []string{"a"}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for _, td := range tc.talks {
				e.talk(td.id, td.from, td.to, td.dnr)
			}
			e.start()
			autoOn := false
			for i, st := range tc.steps {
				if !autoOn && st.at >= tc.autoAt {
					e.at(tc.autoAt)
					if err := e.p.SetAuto("main", true); err != nil {
						t.Fatal(err)
					}
					autoOn = true
				}
				e.clock.setQuiet(t0.Add(st.at))
				if st.do != nil {
					st.do(e)
				}
				e.at(st.at)
				if got := e.live(); got != st.live {
					t.Fatalf("step %d (10:00%+v): live %q, want %q", i, st.at, got, st.live)
				}
				for _, id := range st.ended {
					if tk := e.get(id); !tk.HasEnded() {
						t.Fatalf("step %d (10:00%+v): %s has not ended", i, st.at, id)
					}
				}
			}
			if tc.check != nil {
				tc.check(e)
			}
		})
	}
}

func mustStart(e *env, id string) {
	e.t.Helper()
	if _, err := e.p.Start(context.Background(), id); err != nil {
		e.t.Fatal(err)
	}
}

func mustStop(e *env, id string) {
	e.t.Helper()
	if _, err := e.p.Stop(context.Background(), id); err != nil {
		e.t.Fatal(err)
	}
}

func mustNext(e *env) {
	e.t.Helper()
	if _, err := e.p.Next(context.Background(), "main"); err != nil {
		e.t.Fatal(err)
	}
}

func move(e *env, id string, from, to time.Duration) {
	e.t.Helper()
	s, en := t0.Add(from), t0.Add(to)
	if _, err := e.lib.Update(context.Background(), id, archive.TalkPatch{StartsAt: &s, EndsAt: &en}); err != nil {
		e.t.Fatal(err)
	}
}

// TestProgramme_Next: Next stops the live talk and starts the next in one
// step, tells the stage's chat, and refuses when there is no next talk.
func TestProgramme_Next(t *testing.T) {
	e := newEnv(t)
	e.talk("a", 0, 30*m, false)
	e.talk("b", 30*m, 60*m, false)
	e.start()
	ctx := context.Background()
	if _, err := e.p.Next(ctx, "nowhere"); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("Next on a stage without talks: %v", err)
	}
	ch, err := e.p.Next(ctx, "main")
	if err != nil || ch.Stopped != nil || ch.Started.ID != "a" {
		t.Fatalf("first Next: %+v %v", ch, err)
	}
	if day := e.p.Day(); len(day) != 1 || day[0].Live == nil || day[0].Live.ID != "a" || day[0].Next == nil || day[0].Next.ID != "b" {
		t.Fatalf("day %+v", day)
	}
	e.clock.set(t0.Add(-50 * m))
	ch, err = e.p.Next(ctx, "main")
	if err != nil || ch.Stopped == nil || ch.Stopped.ID != "a" || ch.Started.ID != "b" {
		t.Fatalf("second Next: %+v %v", ch, err)
	}
	if _, err := e.p.Next(ctx, "main"); !errors.Is(err, archive.ErrConflict) {
		t.Fatalf("Next with no next talk: %v", err)
	}
	if e.live() != "b" {
		t.Fatalf("a refused Next changed the stage: live %q", e.live())
	}
	e.rooms.mu.Lock()
	told := len(e.rooms.told)
	e.rooms.mu.Unlock()
	if told != 2 {
		t.Fatalf("the stage's chat was told %d times, want 2 (a on, then b on)", told)
	}
}

// TestProgramme_AutoPersists: the auto flags survive a restart.
func TestProgramme_AutoPersists(t *testing.T) {
	e := newEnv(t)
	e.talk("a", 0, 30*m, false)
	p := e.start()
	if err := p.SetAuto("nowhere", true); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("auto on an unknown stage: %v", err)
	}
	if err := p.SetAuto("main", true); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if p2 := e.start(); !p2.Auto("main") {
		t.Fatal("auto mode lost across a restart")
	}
}
