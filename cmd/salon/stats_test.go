package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStats_LiveAndReplay: a real salon with an ffmpeg publisher; four
// clients fetch the live playlist while a talk runs, two open its replay
// after it stopped, one downloads the MP4 — and /api/stats says so, per
// talk and for the day, as JSON and CSV, with nothing personal on disk.
func TestStats_LiveAndReplay(t *testing.T) {
	needTools(t, "ffmpeg")
	a := testApp(t)
	pub := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	defer pub.kill()
	waitSegments(t, a, "main", 2, 60*time.Second)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"stats-demo","title":"一天的直播","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := api(t, a, "POST", "/api/talks/stats-demo/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}

	fetch := func(path string, header ...string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", a.httpURL(path), nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	viewers := []string{"e2e-viewer-one", "e2e-viewer-two", "e2e-viewer-three"}
	for _, id := range viewers {
		if code := fetch("/live/main/index.m3u8", "X-Salon-Viewer", id); code != 200 {
			t.Fatalf("live playlist: %d", code)
		}
	}
	// The sampler reports the viewer table every 5 s; a viewer stays in it
	// for 10 s after a fetch, so the test's own client that waited for the
	// first segments (address and User-Agent, no id) counts too: 4 viewers.
	// Wait for the numbers, not for a time.
	const live = 4.0
	talkStats := func() map[string]any {
		code, m := api(t, a, "GET", "/api/talks/stats-demo/stats", "")
		if code != 200 {
			t.Fatalf("talk stats: %d %v", code, m)
		}
		return m
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		m := talkStats()
		if m["live_viewers_unique"] == live && m["live_viewers_peak"] == live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the talk's live numbers never reached %v viewers: %v", live, m)
		}
	}

	if code, m := api(t, a, "POST", "/api/talks/stats-demo/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	for _, ua := range []string{"phone", "laptop", "phone"} {
		if code := fetch("/archive/talks/stats-demo/index.m3u8", "User-Agent", ua); code != 200 {
			t.Fatalf("replay playlist: %d", code)
		}
	}
	waitArchived(t, a.httpURL("/talks/stats-demo/download.mp4"), 60*time.Second)

	code, day := api(t, a, "GET", "/api/stats", "")
	if code != 200 {
		t.Fatalf("day stats: %d %v", code, day)
	}
	for k, want := range map[string]float64{"live_viewers_unique": live, "live_viewers_peak": live, "replay_viewers_unique": 2, "downloads": 1, "downloads_mp4": 1} {
		if day[k] != want {
			t.Errorf("day %s = %v, want %v (%v)", k, day[k], want, day)
		}
	}
	talks, _ := day["talks"].([]any)
	if len(talks) != 1 || talks[0].(map[string]any)["title"] != "一天的直播" {
		t.Errorf("day talks %v", talks)
	}
	if m := talkStats(); m["replay_viewers_unique"] != 2.0 || m["live_viewers_unique"] != live {
		t.Errorf("talk stats after the replay: %v", m)
	}

	req, _ := http.NewRequest("GET", a.httpURL("/api/stats?format=csv"), nil)
	req.Header.Set("Authorization", "Bearer "+a.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var csvBody bytes.Buffer
	_, _ = csvBody.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(csvBody.String(), "\uFEFFtalk,") || !strings.Contains(csvBody.String(), "stats-demo,一天的直播,") {
		t.Errorf("CSV:\n%s", csvBody.String())
	}

	// The day on disk (written every 30 s and at Close) holds no viewer id
	// or address.
	if err := a.stats.Flush(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(a.cfg.Data, "stats", "*.json"))
	if len(files) != 1 {
		t.Fatalf("stats files %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), `"live_viewers_unique":4`) {
		t.Errorf("the day file does not hold the day: %s", b)
	}
	for _, s := range append(viewers, "127.0.0.1", "phone", "laptop") {
		if strings.Contains(string(b), s) {
			t.Errorf("the day file holds %q", s)
		}
	}
}

// TestStats_RestartKeepsTheDay: salon counts two replay viewers, stops
// (writing the day), starts again on the same data directory, and still
// shows them; a third viewer after the restart adds to them.
func TestStats_RestartKeepsTheDay(t *testing.T) {
	data := t.TempDir()
	setup := func(c *Config) {
		c.Data = data
		c.Archive = filepath.Join(data, "archive")
		c.RTSP, c.RTMP = "", ""
	}
	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.AdminToken = "test-admin-token"
	cfg.PublishKey = testKey
	setup(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	first, err := startApp(cfg, slog.New(slog.NewTextHandler(&testLogWriter{t: t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if code, m := api(t, first, "POST", "/api/talks", `{"id":"kept","title":"重启之后","stage":"main"}`); code != 201 {
		first.Close()
		t.Fatalf("create: %d %v", code, m)
	}
	// A replay playlist in the archive, as a cut leaves it.
	key := filepath.Join(data, "archive", "talks", "kept", "index.m3u8")
	if err := os.WriteFile(key, []byte("#EXTM3U\n#EXT-X-ENDLIST\n"), 0o644); err != nil {
		first.Close()
		t.Fatal(err)
	}
	replay := func(a *app, ua string) {
		req, _ := http.NewRequest("GET", a.httpURL("/archive/talks/kept/index.m3u8"), nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("replay playlist: %d", resp.StatusCode)
		}
	}
	replay(first, "phone")
	replay(first, "laptop")
	first.Close() // writes the day

	second := testApp(t, setup)
	if code, m := api(t, second, "GET", "/api/talks/kept/stats", ""); code != 200 || m["replay_viewers_unique"] != 2.0 {
		t.Fatalf("after the restart: %d %v", code, m)
	}
	replay(second, "tablet")
	if _, m := api(t, second, "GET", "/api/stats", ""); m["replay_viewers_unique"] != 3.0 {
		t.Errorf("the day after one more viewer: %v", m)
	}
}
