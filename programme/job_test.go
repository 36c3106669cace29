package programme

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/chat"
)

// waitJobs waits until every end-of-talk job is done.
func waitJobs(t *testing.T, p *Programme) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		n, done := p.jobs.pending()
		if n == 0 {
			return
		}
		select {
		case <-done:
		case <-deadline:
			t.Fatalf("%d end-of-talk jobs still pending", n)
		}
	}
}

// TestProgramme_JobLeftInSpool: salon died right after acknowledging a stop
// — before it had even saved the stop. The job left in the spool is done at
// the next Initialize: the talk is stopped at the time asked, its chat slice
// and slide changes are saved, and the job file goes.
func TestProgramme_JobLeftInSpool(t *testing.T) {
	e := newEnv(t)
	e.talk("crash", 0, 30*m, false)
	e.talk("other", 30*m, 60*m, false)
	ctx := context.Background()
	started, err := e.lib.Start(ctx, "crash", t0)
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(20 * m)
	e.rooms.msgs = []chat.Message{
		{ID: "m1", Talk: "crash", Name: "Ada", Text: "你好", Time: t0.Add(m), ClientID: ""},
		{ID: "m2", Talk: "other", Name: "Bob", Text: "not this talk", Time: t0.Add(2 * m)},
		{ID: "m3", Talk: "crash", Name: "Cy", Text: "deleted", Time: t0.Add(3 * m), Deleted: true},
	}
	e.rooms.slides = []chat.Slide{{Talk: "crash", Page: 2, Time: t0.Add(5 * m)}, {Talk: "crash", Page: 3, Time: t0.Add(9 * m)}}
	job := Job{Talk: "crash", Stage: "main", Start: started.Recording.Start, End: end, Created: end}
	if err := os.MkdirAll(e.dir+"/jobs", 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(job)
	if err := os.WriteFile(e.dir+"/jobs/crash.json", data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(e.dir+"/jobs/half.json.tmp", []byte("{"), 0o644) // an unacknowledged write
	// No recording was stored: the replay cannot become final, and the job
	// gives up waiting for it after FinalWait.
	e.clock.set(end.Add(time.Hour))
	p := e.start()
	waitJobs(t, p)

	tk := e.get("crash")
	if !tk.HasEnded() || !tk.Recording.End.Equal(end) {
		t.Fatalf("talk recording %+v, want stopped at %v", tk.Recording, end)
	}
	if len(tk.SlideChanges) != 2 || tk.SlideChanges[1].Page != 3 {
		t.Fatalf("slide changes %+v", tk.SlideChanges)
	}
	rc, _, err := e.store.Get(ctx, archive.ChatKey("crash"), 0, -1)
	if err != nil {
		t.Fatalf("chat.jsonl: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if lines := strings.Count(string(b), "\n"); lines != 2 || !strings.Contains(string(b), "你好") || strings.Contains(string(b), "not this talk") {
		t.Fatalf("chat.jsonl:\n%s", b)
	}
	if !e.exists(archive.SlidesVTTKey("crash")) || !e.exists(archive.TalkPlaylistKey("crash")) {
		t.Fatal("slide track or replay playlist missing")
	}
	entries, _ := os.ReadDir(e.dir + "/jobs")
	if len(entries) != 0 {
		t.Fatalf("spool not empty after the jobs: %v", entries)
	}
}

// TestProgramme_StopSpoolsJob: Stop spools the job, and the worker retries
// it until the replay is final or FinalWait has passed.
func TestProgramme_StopSpoolsJob(t *testing.T) {
	e := newEnv(t)
	e.talk("a", 0, 30*m, false)
	p := e.start()
	e.clock.set(t0)
	mustStart(e, "a")
	e.clock.setQuiet(t0.Add(10 * m))
	mustStop(e, "a")
	// No recording is stored, so the replay is not final and the job stays.
	if _, err := os.Stat(e.dir + "/jobs/a.json"); err != nil {
		t.Fatalf("job not in the spool after the stop: %v", err)
	}
	// Not final (no recording stored): retried with back-off until FinalWait.
	if p.PendingJobs() != 1 {
		t.Fatalf("%d jobs pending", p.PendingJobs())
	}
	for i := 0; p.PendingJobs() > 0; i++ {
		if i > 100 {
			t.Fatal("the job never gave up waiting for a final replay")
		}
		idle := p.jobs.idle()
		e.clock.set(e.clock.Now().Add(p.FinalWait / 4))
		select {
		case <-idle:
		case <-time.After(waitFor):
			t.Fatal("the job worker never came back to wait")
		}
	}
}

// flakyStore fails the first puts of keys with a given suffix, as a bucket
// that is down for a moment.
type flakyStore struct {
	*archive.DirStore
	suffix string
	mu     sync.Mutex
	fails  int
}

// fail reports whether this put of key fails (one fewer failure to come).
func (s *flakyStore) fail(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasSuffix(key, s.suffix) || s.fails == 0 {
		return false
	}
	s.fails--
	return true
}

func (s *flakyStore) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	if s.fail(key) {
		return errors.New("bucket unreachable")
	}
	return s.DirStore.Put(ctx, key, r, size, ct)
}

func (s *flakyStore) PutIf(ctx context.Context, key string, data []byte, ct string, cond archive.Condition) (string, error) {
	if s.fail(key) {
		return "", errors.New("bucket unreachable")
	}
	return s.DirStore.PutIf(ctx, key, data, ct, cond)
}

// TestProgramme_JobRetried: when saving the chat log fails at the stop (the
// bucket is down), the job keeps it and retries with back-off until it is
// saved (hardening finding 22: nothing lost when the save fails at stop).
func TestProgramme_JobRetried(t *testing.T) {
	e := newEnv(t)
	flaky := &flakyStore{DirStore: e.store, suffix: "/chat.jsonl", fails: 3}
	e.lib = &archive.Library{Store: flaky, Log: e.lib.Log, Now: e.clock.Now}
	if err := e.lib.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.talk("a", 0, 30*m, false)
	e.rooms.msgs = []chat.Message{{ID: "m1", Talk: "a", Name: "Ada", Text: "kept", Time: t0.Add(m)}}
	p := e.start()
	e.clock.set(t0)
	mustStart(e, "a")
	e.clock.setQuiet(t0.Add(10 * m))
	mustStop(e, "a")
	// Each failed attempt schedules the next on the clock: move it on until
	// the log is saved.
	for i := 0; !e.exists(archive.ChatKey("a")); i++ {
		if i > 100 {
			t.Fatal("the chat log was never saved")
		}
		idle := p.jobs.idle()
		e.clock.set(e.clock.Now().Add(jobBackoffMax))
		select {
		case <-idle:
		case <-time.After(waitFor):
			t.Fatal("the job worker never came back to wait")
		}
	}
	flaky.mu.Lock()
	left := flaky.fails
	flaky.mu.Unlock()
	if left != 0 {
		t.Fatalf("saved with %d failures still to come", left)
	}
}
