package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

// The registry is what cmd/salon passes as Stages.
var _ stageSource = (*stream.Registry)(nil)

// fakeLive serves fixed files per stage and records what was asked.
type fakeLive struct {
	mu    sync.Mutex
	files map[string]string // "stage/name" → body
	calls []string
}

func (f *fakeLive) File(ctx context.Context, stage, name string) ([]byte, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, stage+"/"+name)
	body, ok := f.files[stage+"/"+name]
	if !ok {
		return nil, "", false
	}
	ctype := "video/iso.segment"
	switch {
	case strings.HasSuffix(name, ".m3u8"):
		ctype = "application/vnd.apple.mpegurl"
	case strings.HasSuffix(name, ".mp4"):
		ctype = "video/mp4"
	}
	return []byte(body), ctype, true
}

// Playlist serves index.m3u8 as File does; with directives it records them
// in the call instead. _HLS_msn 999 does not come in time (503), 1000 and
// more are too far ahead (400).
func (f *fakeLive) Playlist(ctx context.Context, stage string, msn, part int64, skip bool) ([]byte, int) {
	if msn < 0 && !skip {
		b, _, ok := f.File(ctx, stage, "index.m3u8")
		if !ok {
			return nil, http.StatusNotFound
		}
		return b, http.StatusOK
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s/index.m3u8 msn=%d part=%d skip=%v", stage, msn, part, skip))
	switch {
	case msn >= 1000:
		return nil, http.StatusBadRequest
	case msn == 999:
		return nil, http.StatusServiceUnavailable
	}
	body, ok := f.files[stage+"/index.m3u8"]
	if !ok {
		return nil, http.StatusNotFound
	}
	return []byte(body), http.StatusOK
}

func (f *fakeLive) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// fakeStages is a fixed set of stages.
type fakeStages struct {
	mu     sync.Mutex
	stages []stream.StageInfo
}

func (f *fakeStages) Stages() []stream.StageInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stream.StageInfo(nil), f.stages...)
}

func (f *fakeStages) Known(name string) bool {
	for _, s := range f.Stages() {
		if s.Name == name {
			return true
		}
	}
	return false
}

func (f *fakeStages) Live(name string) bool {
	for _, s := range f.Stages() {
		if s.Name == name {
			return s.Live
		}
	}
	return false
}

const testPlaylist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init-1.mp4\"\n#EXTINF:2.000,\n7.m4s\n"

func newFakes() (*fakeLive, *fakeStages) {
	since := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	live := &fakeLive{files: map[string]string{
		"main/index.m3u8": testPlaylist,
		"main/init-1.mp4": "INIT",
		"main/7.m4s":      "SEGMENT-7",
		"main/7.2.m4s":    "PART-7-2",
	}}
	stages := &fakeStages{stages: []stream.StageInfo{
		{Name: "attic", Live: false},
		{Name: "main", Live: true, Since: &since, Source: "rtmp", Tracks: []stream.TrackInfo{
			{Kind: "video", Codec: "H264", Width: 1280, Height: 720, FrameRate: 30, KeyframeInterval: 2, Bitrate: 2_500_000},
			{Kind: "audio", Codec: "AAC", SampleRate: 48000, Channels: 2, Bitrate: 128_000},
		}},
	}}
	return live, stages
}

// startServer starts a Server on a loopback port with its own registry.
func startServer(t testing.TB, live liveSource, stages stageSource) (*Server, string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := &Server{
		Address:  "127.0.0.1:0",
		Live:     live,
		Stages:   stages,
		Metrics:  reg,
		Gatherer: reg,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if err := s.Initialize(); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	t.Cleanup(s.Close)
	return s, "http://" + s.Addr()
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, method, url string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

func TestServer_Live(t *testing.T) {
	live, stages := newFakes()
	_, base := startServer(t, live, stages)

	const immutable = "public, max-age=31536000, immutable"
	tests := []struct {
		name     string
		method   string
		path     string
		header   map[string]string
		status   int
		ctype    string
		cache    string
		body     string
		wantCall string // the File call expected, "" for none
	}{
		{"playlist", "GET", "/live/main/index.m3u8", nil, 200, "application/vnd.apple.mpegurl", "no-cache", testPlaylist, "main/index.m3u8"},
		{"playlist head", "HEAD", "/live/main/index.m3u8", nil, 200, "application/vnd.apple.mpegurl", "no-cache", "", "main/index.m3u8"},
		{"init", "GET", "/live/main/init-1.mp4", nil, 200, "video/mp4", immutable, "INIT", "main/init-1.mp4"},
		{"segment", "GET", "/live/main/7.m4s", nil, 200, "video/iso.segment", immutable, "SEGMENT-7", "main/7.m4s"},
		{"segment head", "HEAD", "/live/main/7.m4s", nil, 200, "video/iso.segment", immutable, "", "main/7.m4s"},
		{"segment range", "GET", "/live/main/7.m4s", map[string]string{"Range": "bytes=0-6"}, 206, "video/iso.segment", immutable, "SEGMENT", "main/7.m4s"},
		{"segment left the window", "GET", "/live/main/1.m4s", nil, 404, "application/json; charset=utf-8", "no-store", "", "main/1.m4s"},
		{"offline stage playlist", "GET", "/live/attic/index.m3u8", nil, 404, "application/json; charset=utf-8", "no-store", "", "attic/index.m3u8"},
		{"unknown stage", "GET", "/live/nope/index.m3u8", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"uppercase stage", "GET", "/live/Main/index.m3u8", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"long stage", "GET", "/live/" + strings.Repeat("a", 65) + "/index.m3u8", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"playlist suffix", "GET", "/live/main/index.m3u8x", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"dot dot", "GET", "/live/main/..%2fx", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"other playlist", "GET", "/live/main/other.m3u8", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"init without number", "GET", "/live/main/init-.mp4", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"negative segment", "GET", "/live/main/-1.m4s", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"temp segment", "GET", "/live/main/1.m4s.tmp", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"hex segment", "GET", "/live/main/0x1.m4s", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"part", "GET", "/live/main/7.2.m4s", nil, 200, "video/iso.segment", immutable, "PART-7-2", "main/7.2.m4s"},
		{"part gone", "GET", "/live/main/1.0.m4s", nil, 404, "application/json; charset=utf-8", "no-store", "", "main/1.0.m4s"},
		{"part number too long", "GET", "/live/main/7.1234567.m4s", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"part of part", "GET", "/live/main/7.1.2.m4s", nil, 404, "application/json; charset=utf-8", "no-store", "", ""},
		{"blocking playlist", "GET", "/live/main/index.m3u8?_HLS_msn=7&_HLS_part=2", nil, 200, "application/vnd.apple.mpegurl", "public, max-age=2", testPlaylist, "main/index.m3u8 msn=7 part=2 skip=false"},
		{"delta playlist", "GET", "/live/main/index.m3u8?_HLS_msn=7&_HLS_skip=YES", nil, 200, "application/vnd.apple.mpegurl", "public, max-age=2", testPlaylist, "main/index.m3u8 msn=7 part=-1 skip=true"},
		{"delta playlist v2", "GET", "/live/main/index.m3u8?_HLS_skip=v2", nil, 200, "application/vnd.apple.mpegurl", "no-cache", testPlaylist, "main/index.m3u8 msn=-1 part=-1 skip=true"},
		{"msn too far", "GET", "/live/main/index.m3u8?_HLS_msn=1000", nil, 400, "application/json; charset=utf-8", "no-store", "", "main/index.m3u8 msn=1000 part=-1 skip=false"},
		{"msn not in time", "GET", "/live/main/index.m3u8?_HLS_msn=999&_HLS_part=0", nil, 503, "application/json; charset=utf-8", "no-store", "", "main/index.m3u8 msn=999 part=0 skip=false"},
		{"part without msn", "GET", "/live/main/index.m3u8?_HLS_part=1", nil, 400, "application/json; charset=utf-8", "no-store", "", ""},
		{"msn not a number", "GET", "/live/main/index.m3u8?_HLS_msn=1e3", nil, 400, "application/json; charset=utf-8", "no-store", "", ""},
		{"negative msn", "GET", "/live/main/index.m3u8?_HLS_msn=-1", nil, 400, "application/json; charset=utf-8", "no-store", "", ""},
		{"skip no", "GET", "/live/main/index.m3u8?_HLS_skip=NO", nil, 400, "application/json; charset=utf-8", "no-store", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live.takeCalls()
			res := do(t, tt.method, base+tt.path, tt.header)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d (body %q)", res.status, tt.status, res.body)
			}
			if got := res.header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := res.header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if got := res.header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin %q, want *", got)
			}
			if tt.status >= 400 {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(res.body), &e); err != nil || e.Error == "" {
					t.Errorf("%d body %q is not a JSON error (%v)", tt.status, res.body, err)
				}
			} else if res.body != tt.body {
				t.Errorf("body %q, want %q", res.body, tt.body)
			}
			if tt.method == "HEAD" && res.header.Get("Content-Length") == "" {
				t.Errorf("HEAD without Content-Length")
			}
			calls := live.takeCalls()
			switch {
			case tt.wantCall == "" && len(calls) > 0:
				t.Errorf("File called with %v, want no call", calls)
			case tt.wantCall != "" && (len(calls) != 1 || calls[0] != tt.wantCall):
				t.Errorf("File calls %v, want [%s]", calls, tt.wantCall)
			}
		})
	}
}

func TestServer_Preflight(t *testing.T) {
	live, stages := newFakes()
	_, base := startServer(t, live, stages)
	res := do(t, "OPTIONS", base+"/live/main/index.m3u8", map[string]string{
		"Origin":                         "https://elsewhere.example",
		"Access-Control-Request-Method":  "GET",
		"Access-Control-Request-Headers": "x-salon-viewer",
	})
	if res.status != http.StatusNoContent {
		t.Fatalf("status %d, want 204", res.status)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
		"Access-Control-Allow-Headers": "Range, X-Salon-Viewer",
	} {
		if got := res.header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	if calls := live.takeCalls(); len(calls) > 0 {
		t.Errorf("preflight called File: %v", calls)
	}
}

// slowLive blocks until the request's context ends, like a playlist of a
// publish that never produces a segment.
// waitFor bounds a wait for an event in these tests; it never measures.
const waitFor = 30 * time.Second

// slowLive's File waits for its context to end and reports why.
type slowLive struct {
	entered chan struct{}
	ended   chan error // the context's error when File gave up
}

func (s slowLive) File(ctx context.Context, stage, name string) ([]byte, string, bool) {
	close(s.entered)
	<-ctx.Done()
	s.ended <- ctx.Err()
	return nil, "", false
}

func (s slowLive) Playlist(ctx context.Context, stage string, msn, part int64, skip bool) ([]byte, int) {
	_, _, ok := s.File(ctx, stage, "index.m3u8")
	if !ok {
		return nil, http.StatusNotFound
	}
	return nil, http.StatusOK
}

// requestsServed sums salon_http_requests_total for one route: a request
// counts once its handler has returned.
func requestsServed(t *testing.T, s *Server, route string) float64 {
	t.Helper()
	fams, err := s.Gatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range fams {
		if f.GetName() != "salon_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// TestServer_PlaylistClientGone: a viewer that hangs up while its playlist
// request waits for the next segment ends the wait at once (the request's
// context is cancelled, not timed out after fileWait), and the handler
// returns: nothing is left waiting for a client that is gone.
func TestServer_PlaylistClientGone(t *testing.T) {
	_, stages := newFakes()
	live := slowLive{entered: make(chan struct{}), ended: make(chan error, 1)}
	srv, base := startServer(t, live, stages)
	const route = "GET /live/{stage}/index.m3u8"
	if n := requestsServed(t, srv, route); n != 0 {
		t.Fatalf("%v playlist requests counted before any was made", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/live/main/index.m3u8", nil)
	clientErr := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		clientErr <- err
	}()
	select {
	case <-live.entered:
	case <-time.After(waitFor):
		t.Fatal("the playlist request never reached the live source")
	}
	cancel()
	if err := <-clientErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want its own cancellation", err)
	}
	select {
	case err := <-live.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the wait ended with %v, want context.Canceled: it ran to its timeout instead of seeing the client go", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the wait for the next segment never ended")
	}
	for deadline := time.Now().Add(waitFor); requestsServed(t, srv, route) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the playlist handler did not return after its client hung up")
		}
	}
}

func TestServer_API(t *testing.T) {
	live, stages := newFakes()
	_, base := startServer(t, live, stages)

	t.Run("list", func(t *testing.T) {
		res := do(t, "GET", base+"/api/stages", nil)
		if res.status != 200 || res.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("status %d type %q", res.status, res.header.Get("Content-Type"))
		}
		var list []map[string]any
		if err := json.Unmarshal([]byte(res.body), &list); err != nil {
			t.Fatalf("decode %q: %v", res.body, err)
		}
		if len(list) != 2 || list[0]["name"] != "main" || list[1]["name"] != "attic" {
			t.Fatalf("want main (live) before attic, got %s", res.body)
		}
		for _, key := range []string{"name", "live", "since", "source", "tracks", "viewers", "playlist_url", "page_url"} {
			if _, ok := list[0][key]; !ok {
				t.Errorf("main lacks %q: %s", key, res.body)
			}
		}
		if tr, ok := list[1]["tracks"].([]any); !ok || len(tr) != 0 {
			t.Errorf("attic tracks = %v, want []", list[1]["tracks"])
		}
		if list[0]["playlist_url"] != "/live/main/index.m3u8" || list[0]["page_url"] != "/live/main" {
			t.Errorf("urls %v %v", list[0]["playlist_url"], list[0]["page_url"])
		}
	})

	t.Run("one", func(t *testing.T) {
		res := do(t, "GET", base+"/api/stages/main", nil)
		var st stageJSON
		if err := json.Unmarshal([]byte(res.body), &st); err != nil || res.status != 200 {
			t.Fatalf("status %d, decode %q: %v", res.status, res.body, err)
		}
		if st.Name != "main" || !st.Live || len(st.Tracks) != 2 || st.Tracks[0].Width != 1280 || st.Tracks[1].SampleRate != 48000 {
			t.Errorf("unexpected stage %+v", st)
		}
		var raw map[string]any
		json.Unmarshal([]byte(res.body), &raw)
		track := raw["tracks"].([]any)[0].(map[string]any)
		for _, key := range []string{"kind", "codec", "width", "height", "frame_rate", "keyframe_interval", "bitrate"} {
			if _, ok := track[key]; !ok {
				t.Errorf("video track lacks %q", key)
			}
		}
	})

	for _, tt := range []struct{ name, path string }{
		{"unknown", "/api/stages/nope"},
		{"invalid", "/api/stages/NOPE"},
		{"unrouted", "/api/nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, "GET", base+tt.path, nil)
			var e map[string]string
			if res.status != 404 || json.Unmarshal([]byte(res.body), &e) != nil || e["error"] == "" {
				t.Errorf("status %d body %q, want 404 JSON error", res.status, res.body)
			}
		})
	}

	t.Run("public url", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		s := &Server{Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, PublicURL: "https://live.example.org/"}
		if err := s.Initialize(); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res := do(t, "GET", "http://"+s.Addr()+"/api/stages/main", nil)
		var st stageJSON
		json.Unmarshal([]byte(res.body), &st)
		if st.PlaylistURL != "https://live.example.org/live/main/index.m3u8" || st.PageURL != "https://live.example.org/live/main" {
			t.Errorf("urls %q %q", st.PlaylistURL, st.PageURL)
		}
	})
}

func TestServer_Healthz(t *testing.T) {
	live, stages := newFakes()
	_, base := startServer(t, live, stages)
	res := do(t, "GET", base+"/healthz", nil)
	if res.status != 200 || strings.TrimSpace(res.body) != `{"status":"ok"}` {
		t.Errorf("status %d body %q", res.status, res.body)
	}

	reg := prometheus.NewRegistry()
	sick := &Server{Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg,
		Health: problems{"the spool disk has only 12 MB free"}}
	if err := sick.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer sick.Close()
	res = do(t, "GET", "http://"+sick.Addr()+"/healthz", nil)
	if res.status != 200 || strings.TrimSpace(res.body) != `{"problems":["the spool disk has only 12 MB free"],"status":"degraded"}` {
		t.Errorf("degraded: status %d body %q", res.status, res.body)
	}
}

type problems []string

func (p problems) Problems() []string { return p }

func TestServer_Viewers(t *testing.T) {
	live, stages := newFakes()
	live.files["attic/index.m3u8"] = testPlaylist
	s, base := startServer(t, live, stages)

	fetches := []struct {
		stage  string
		header map[string]string
		query  string
	}{
		{"main", map[string]string{"User-Agent": "browser-a"}, ""},
		{"main", map[string]string{"User-Agent": "browser-a"}, ""}, // same client again
		{"main", map[string]string{"User-Agent": "browser-b"}, ""},
		{"main", map[string]string{"User-Agent": "load", "X-Salon-Viewer": "v1"}, ""},
		{"main", map[string]string{"User-Agent": "load", "X-Salon-Viewer": "v2"}, ""},
		{"main", map[string]string{"User-Agent": "load"}, "?viewer=v3"},
		{"main", map[string]string{"User-Agent": "load"}, "?viewer=v3"},                            // same id
		{"main", map[string]string{"User-Agent": "load", "X-Salon-Viewer": "v1"}, "?viewer=other"}, // header wins
		{"attic", map[string]string{"User-Agent": "browser-a"}, ""},
		{"nope", map[string]string{"User-Agent": "browser-c"}, ""}, // unknown: not counted
	}
	for _, f := range fetches {
		do(t, "GET", base+"/live/"+f.stage+"/index.m3u8"+f.query, f.header)
	}
	// A segment fetch does not make a viewer.
	do(t, "GET", base+"/live/main/7.m4s", map[string]string{"User-Agent": "browser-z"})

	for stage, want := range map[string]int{"main": 5, "attic": 1, "nope": 0} {
		if got := s.Viewers(stage); got != want {
			t.Errorf("Viewers(%s) = %d, want %d", stage, got, want)
		}
	}
	res := do(t, "GET", base+"/api/stages/main", nil)
	var st stageJSON
	json.Unmarshal([]byte(res.body), &st)
	if st.Viewers != 5 {
		t.Errorf("API viewers %d, want 5", st.Viewers)
	}
}

func TestViewers_Window(t *testing.T) {
	v := newViewers(10 * time.Second)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v.touch("main", 1, t0)
	v.touch("main", 2, t0.Add(5*time.Second))
	v.touch("side", 1, t0)
	tests := []struct {
		at   time.Duration
		want int
	}{
		{5 * time.Second, 2},
		{10 * time.Second, 2},
		{11 * time.Second, 1},
		{16 * time.Second, 0},
	}
	for _, tt := range tests {
		if got := v.count("main", t0.Add(tt.at)); got != tt.want {
			t.Errorf("count at +%v = %d, want %d", tt.at, got, tt.want)
		}
	}
	if got := v.counts(t0.Add(16 * time.Second)); len(got) != 0 {
		t.Errorf("counts after the window = %v, want empty (pruned)", got)
	}
}

func TestServer_Metrics(t *testing.T) {
	live, stages := newFakes()
	_, base := startServer(t, live, stages)
	do(t, "GET", base+"/live/main/index.m3u8", nil)
	do(t, "GET", base+"/live/main/7.m4s", nil)
	do(t, "GET", base+"/live/nope/index.m3u8", nil)

	res := do(t, "GET", base+"/metrics", nil)
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	for _, want := range []string{
		`salon_http_requests_total{code="200",route="GET /live/{stage}/index.m3u8"} 1`,
		`salon_http_requests_total{code="404",route="GET /live/{stage}/index.m3u8"} 1`,
		`salon_http_requests_total{code="200",route="GET /live/{stage}/{file}"} 1`,
		`salon_http_bytes_served_total{kind="playlist"} ` + strconv.Itoa(len(testPlaylist)),
		`salon_http_bytes_served_total{kind="segment"} 9`,
		`salon_viewers{stage="main"} 1`,
		`salon_viewers{stage="attic"} 0`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestServer_TwoInOneProcess(t *testing.T) {
	live, stages := newFakes()
	a, _ := startServer(t, live, stages)
	b, _ := startServer(t, live, stages)
	if a.Addr() == b.Addr() {
		t.Fatalf("both servers on %s", a.Addr())
	}
}

func TestServer_Close(t *testing.T) {
	live, stages := newFakes()
	s, base := startServer(t, live, stages)
	s.Close()
	s.Close() // twice is fine
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("server still answers after Close")
	}
}

func TestVendorVersions_MatchLock(t *testing.T) {
	b, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	if got := lock.Packages["node_modules/hls.js"].Version; got != hlsVersion {
		t.Errorf("package-lock.json pins hls.js %s, hlsVersion is %s: update assets.go", got, hlsVersion)
	}
	if got := lock.Packages["node_modules/pdfjs-dist"].Version; got != pdfjsVersion {
		t.Errorf("package-lock.json pins pdfjs-dist %s, pdfjsVersion is %s: update assets.go", got, pdfjsVersion)
	}
}

var liveNameRE = regexp.MustCompile(`^(index\.m3u8|init-[0-9]{1,20}\.mp4|[0-9]{1,20}\.m4s|[0-9]{1,20}\.[0-9]{1,6}\.m4s)$`)

func TestClassifyFile(t *testing.T) {
	tests := []struct {
		name string
		want fileKind
	}{
		{"index.m3u8", kindPlaylist},
		{"init-1.mp4", kindInit},
		{"init-12.mp4", kindInit},
		{"0.m4s", kindSegment},
		{"123456.m4s", kindSegment},
		{"12.0.m4s", kindPart},
		{"12.345678.m4s", kindPart},
		{"12.3456789.m4s", kindInvalid},
		{"12..m4s", kindInvalid},
		{".1.m4s", kindInvalid},
		{"1.2.3.m4s", kindInvalid},
		{"1.-2.m4s", kindInvalid},
		{"", kindInvalid},
		{"index.m3u8x", kindInvalid},
		{"INDEX.M3U8", kindInvalid},
		{"../x", kindInvalid},
		{"init-.mp4", kindInvalid},
		{"init-1.m4s", kindInvalid},
		{"init-a.mp4", kindInvalid},
		{".m4s", kindInvalid},
		{"1.m4s/", kindInvalid},
		{"+1.m4s", kindInvalid},
		{"1 .m4s", kindInvalid},
		{strings.Repeat("9", 21) + ".m4s", kindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyFile(tt.name); got != tt.want {
				t.Errorf("classifyFile(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
