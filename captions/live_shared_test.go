package captions

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// memCues is a shared log in memory: every Live opened on it is delivered
// every record, in one order, as the cluster's stream does across nodes.
type memCues struct {
	mu   sync.Mutex
	recs []struct {
		stage string
		rec   []byte
	}
	subs []func(string, []byte)
}

func (m *memCues) OpenCues(_ time.Duration, deliver func(string, []byte)) (CueLog, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.recs {
		deliver(r.stage, r.rec)
	}
	m.subs = append(m.subs, deliver)
	return m, nil
}

func (m *memCues) Append(_ context.Context, stage, _ string, rec []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, struct {
		stage string
		rec   []byte
	}{stage, rec})
	for _, d := range m.subs {
		d(stage, rec)
	}
	return nil
}

func (m *memCues) CatchUp(context.Context) error { return nil }
func (m *memCues) Close() error                  { return nil }

// Two nodes whose clocks differ share their cues: both hold the same cues
// in the log's order (a cue stamped before the last one is moved a
// millisecond after it), Add returns the cue as applied, and a node that
// opens the log later holds the same. Records that do not read are skipped
// everywhere.
func TestLive_Shared(t *testing.T) {
	log := &memCues{}
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	open := func(now time.Time) *Live {
		l := &Live{Dir: t.TempDir(), Shared: log, Now: func() time.Time { return now }}
		if err := l.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	a, b := open(t0), open(t0.Add(-2*time.Second)) // b's clock is 2 s behind
	if _, err := a.Add("main", "en", "from a"); err != nil {
		t.Fatal(err)
	}
	cb, err := b.Add("main", "en", "from b")
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Millisecond); !cb.At.Equal(want) {
		t.Errorf("b's cue as applied at %v, want %v (after a's)", cb.At, want)
	}
	log.Append(context.Background(), "main", "x", []byte(`{"lang":"en","at":"2026-12`))
	if _, err := a.Add("main", "fr", "de a"); err != nil {
		t.Fatal(err)
	}
	c := open(t0)
	span := func(l *Live) string {
		var s []string
		for _, lang := range l.Langs("main") {
			for _, cue := range l.Span("main", lang, t0.Add(-time.Minute), t0.Add(time.Minute)) {
				s = append(s, lang+" "+cue.Start.Format("05.000")+" "+cue.Text)
			}
		}
		return strings.Join(s, "|")
	}
	want := "en 00.000 from a|en 00.001 from b|fr 00.000 de a"
	for name, l := range map[string]*Live{"a": a, "b": b, "c (opened later)": c} {
		if got := span(l); got != want {
			t.Errorf("node %s holds %q, want %q", name, got, want)
		}
	}
	if err := a.Compact("main"); err != nil {
		t.Fatal(err)
	}
}
