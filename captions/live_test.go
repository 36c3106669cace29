package captions

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newLive(t *testing.T, dir string, now *time.Time) *Live {
	t.Helper()
	l := &Live{Dir: dir, Now: func() time.Time { return *now }}
	if err := l.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestLive_Add: cues show until the next one in their language or for
// CueDuration; posts in the same millisecond keep their order; refusals
// wrap ErrLive; the journal brings them back after a restart.
func TestLive_Add(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	now := t0
	l := newLive(t, dir, &now)
	add := func(lang, text string) LiveCue {
		t.Helper()
		c, err := l.Add("main", lang, text)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := add("en", "one <script>x</script>")
	b := add("en", "two") // same instant: a millisecond later
	now = t0.Add(10 * time.Second)
	add("en", "three")
	add("zh-cn", "你好")
	if a.Text != "one x" || !b.At.Equal(t0.Add(time.Millisecond)) {
		t.Errorf("cues %+v %+v", a, b)
	}
	if got := strings.Join(l.Langs("main"), ","); got != "en,zh-CN" {
		t.Errorf("Langs = %s", got)
	}
	span := l.Span("main", "en", t0, t0.Add(20*time.Second))
	if len(span) != 3 || !span[0].End.Equal(b.At) || !span[1].End.Equal(b.At.Add(4*time.Second)) || !span[2].End.Equal(t0.Add(14*time.Second)) {
		t.Errorf("Span = %+v", span)
	}
	if got := l.Span("main", "en", t0.Add(5*time.Second), t0.Add(9*time.Second)); len(got) != 0 {
		t.Errorf("Span of a quiet stretch = %+v", got)
	}

	for _, tc := range []struct{ stage, lang, text string }{
		{"main", "xx-<b>", "x"}, {"main", "und", "x"}, {"main", "en", "  "}, {"main", "en", "<i></i>"},
		{"main", "en", strings.Repeat("a", MaxLiveText+1)}, {"../etc", "en", "x"}, {"main", "en", "\xff"},
	} {
		if _, err := l.Add(tc.stage, tc.lang, tc.text); !errors.Is(err, ErrLive) {
			t.Errorf("Add(%q, %q, %.20q) = %v, want ErrLive", tc.stage, tc.lang, tc.text, err)
		}
	}

	// A restart reads the journal back; a line cut short by a crash is skipped.
	l.Close()
	f, err := os.OpenFile(filepath.Join(dir, "main.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"lang":"en","at":"2026-12`)
	f.Close()
	l2 := newLive(t, dir, &now)
	if got := l2.Span("main", "en", t0, t0.Add(20*time.Second)); len(got) != 3 || got[0].Text != "one x" {
		t.Errorf("after a restart: %+v", got)
	}
	if got := l2.Span("main", "zh-CN", t0, t0.Add(20*time.Second)); len(got) != 1 || got[0].Text != "你好" {
		t.Errorf("after a restart, zh-CN: %+v", got)
	}
	// The next cue after the cut line is kept on a line of its own.
	now = t0.Add(30 * time.Second)
	if _, err := l2.Add("main", "en", "four"); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	l3 := newLive(t, dir, &now)
	if got := l3.Span("main", "en", t0.Add(29*time.Second), t0.Add(40*time.Second)); len(got) != 1 || got[0].Text != "four" {
		t.Errorf("the cue after a cut line: %+v", got)
	}
}
