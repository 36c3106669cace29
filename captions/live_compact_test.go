package captions

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/internal/testkit"
)

// TestLive_Compact: the journal keeps only the cues Live holds. Add
// compacts it once it reaches CompactAt (forgetting cues older than Keep,
// in memory too), cues posted after a compaction go to the new journal, a
// restart reads the same cues, and a compaction a crash cut short (its
// temporary file left beside the whole old journal) loses nothing.
func TestLive_Compact(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "main.jsonl")
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	now := t0
	logs := &testkit.LogBuffer{}
	open := func() *Live {
		t.Helper()
		l := &Live{Dir: dir, Now: func() time.Time { return now }, Keep: time.Hour, CompactAt: 2000, Log: logs.Logger()}
		if err := l.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	lines := func() []string {
		t.Helper()
		b, err := os.ReadFile(journal)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	l := open()
	add := func(lang, text string) {
		t.Helper()
		if _, err := l.Add("main", lang, text); err != nil {
			t.Fatal(err)
		}
	}
	// Morning: 10 cues, about 900 bytes: under CompactAt, so the journal
	// is only appended to.
	for i := range 10 {
		now = t0.Add(time.Duration(i) * time.Second)
		add("en", "morning cue number "+string(rune('a'+i)))
	}
	if strings.Contains(logs.String(), "compacted") {
		t.Fatalf("the journal was compacted below CompactAt:\n%s", logs)
	}
	if n := len(lines()); n != 10 {
		t.Fatalf("journal has %d lines before any compaction, want 10", n)
	}
	// Two hours later (Keep is 1 h): the journal passes 2000 bytes and is
	// compacted to the afternoon's cues.
	for i := 0; ; i++ {
		now = t0.Add(2*time.Hour + time.Duration(i)*time.Second)
		add("zh-CN", "下午的字幕")
		if got := lines(); len(got) <= i+1 {
			if len(got) != i+1 || strings.Contains(strings.Join(got, ""), "morning") {
				t.Fatalf("after compaction the journal has %d lines, want the %d afternoon cues:\n%s", len(got), i+1, strings.Join(got, "\n"))
			}
			break
		}
		if i > 100 {
			t.Fatal("the journal was never compacted")
		}
	}
	if got := l.Span("main", "en", t0, t0.Add(time.Minute)); len(got) != 0 {
		t.Errorf("cues older than Keep are still in memory: %+v", got)
	}
	// A cue after the compaction is journaled in the new file.
	now = now.Add(time.Second)
	add("en", "after the compaction")
	last := lines()
	if !strings.Contains(last[len(last)-1], "after the compaction") {
		t.Fatalf("the cue after the compaction is not in the journal: %q", last[len(last)-1])
	}
	l.Close()

	// A crash in the middle of a compaction: the temporary file is left,
	// the journal is whole; a restart removes the one and reads the other.
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".main.jsonl.123.tmp")
	if err := os.WriteFile(tmp, []byte(`{"lang":"en","at":"2026-12-02T11:00:00Z","text":"half`), 0o644); err != nil {
		t.Fatal(err)
	}
	l = open()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the unfinished compaction's file is still there: %v", err)
	}
	if got := l.Span("main", "en", now.Add(-time.Second), now.Add(time.Second)); len(got) != 1 || got[0].Text != "after the compaction" {
		t.Errorf("after a restart: %+v", got)
	}
	if got := l.Span("main", "zh-CN", t0.Add(2*time.Hour), now); len(got) != len(last)-1 {
		t.Errorf("after a restart, %d zh-CN cues, want %d", len(got), len(last)-1)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(after, before) {
		t.Errorf("a restart with nothing expired rewrote the journal")
	}
	l.Close()

	// A day later every cue has expired: the restart compacts the journal
	// to nothing.
	now = now.Add(24 * time.Hour)
	l = open()
	if b, err := os.ReadFile(journal); err != nil || len(b) != 0 {
		t.Errorf("journal after a restart with every cue expired: %q, %v", b, err)
	}
	if got := l.Langs("main"); len(got) != 0 {
		t.Errorf("languages with no cue left: %q", got)
	}
}
