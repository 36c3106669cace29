package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/captions"
)

// TestServer_LiveCues: GET /api/stages/{stage}/captions gives the pages the
// cues posted live, in wall-clock time, from ?since= (default: the last two
// minutes), by language; a bad since or stage is refused.
func TestServer_LiveCues(t *testing.T) {
	now := time.Now()
	clock := now.Add(-10 * time.Minute)
	lc := &captions.Live{Now: func() time.Time { return clock }} // in memory: Dir ""
	if err := lc.Initialize(); err != nil {
		t.Fatal(err)
	}
	add := func(at time.Time, lang, text string) {
		t.Helper()
		clock = at
		if _, err := lc.Add("main", lang, text); err != nil {
			t.Fatal(err)
		}
	}
	add(now.Add(-10*time.Minute), "en", "long ago")
	add(now.Add(-30*time.Second), "en", "recent <b>bold</b><img src=x>")
	add(now.Add(-20*time.Second), "zh-CN", "最近")
	add(now.Add(-5*time.Second), "en", "newest")

	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	s := &Server{Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), LiveCaptions: lc}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	base := "http://" + s.Addr()

	type cue struct {
		Lang       string
		Start, End time.Time
		Text       string
	}
	fetch := func(query string) (int, []cue) {
		t.Helper()
		res := do(t, "GET", base+"/api/stages/main/captions"+query, nil)
		var body struct{ Cues []cue }
		if res.status == 200 {
			if err := json.Unmarshal([]byte(res.body), &body); err != nil {
				t.Fatalf("%v: %s", err, res.body)
			}
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		}
		return res.status, body.Cues
	}
	texts := func(cs []cue) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Lang+":"+c.Text)
		}
		return strings.Join(out, "|")
	}
	if code, cs := fetch(""); code != 200 || texts(cs) != "en:recent <b>bold</b>|en:newest|zh-CN:最近" {
		t.Errorf("default: %d %q", code, texts(cs))
	}
	if _, cs := fetch("?since=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339))); texts(cs) != "en:long ago|en:recent <b>bold</b>|en:newest|zh-CN:最近" {
		t.Errorf("since an hour: %q", texts(cs))
	} else if !cs[0].End.Equal(cs[0].Start.Add(4*time.Second)) || !cs[1].Start.Equal(now.Add(-30*time.Second).UTC().Round(time.Millisecond)) {
		t.Errorf("times: %+v", cs)
	}
	if _, cs := fetch("?since=" + url.QueryEscape(now.Add(-10*time.Second).Format(time.RFC3339Nano))); texts(cs) != "en:newest" {
		t.Errorf("since 10 s: %q", texts(cs))
	}
	for _, q := range []string{"?since=yesterday", "?since=%3Cscript%3E"} {
		if code, _ := fetch(q); code != 400 {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if res := do(t, "GET", base+"/api/stages/Bad_Stage/captions", nil); res.status != 404 {
		t.Errorf("bad stage: %d", res.status)
	}
}
