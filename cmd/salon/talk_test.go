package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
)

// api calls salon's JSON API as the organiser.
func api(t testing.TB, a *app, method, path, body string) (int, map[string]any) {
	t.Helper()
	return apiURL(t, a.httpURL(path), a.adminToken, method, body)
}

func apiURL(t testing.TB, url, token, method, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, m
}

// minioArchive points a test salon at a fresh bucket on a real MinIO.
func minioArchive(t *testing.T) func(*Config) {
	endpoint, key, secret, _, _ := storetest.MinIO(t)
	bucket := fmt.Sprintf("salon-%d", time.Now().UnixNano())
	return func(c *Config) {
		c.Archive = "s3:http://" + endpoint + "/" + bucket + "/replays"
		c.AWSAccessKey, c.AWSSecretKey = key, secret
	}
}

func probeDuration(t *testing.T, url string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=start_time,duration", "-of", "csv=p=0", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	// A live playlist keeps the stage's timeline: it may start at 40 s (the
	// MP4 download starts at 0, TestTalk_DownloadStartsAtZero).
	parts := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(parts) != 2 {
		t.Fatalf("ffprobe output %q", out)
	}
	st, err1 := strconv.ParseFloat(parts[0], 64)
	d, err2 := strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("ffprobe output %q", out)
	}
	if strings.HasSuffix(url, ".m3u8") {
		return d // the HLS demuxer reports the playlist's length
	}
	return d - st
}

// stageObjects lists the recorded stage objects with their ETags.
func stageObjects(t *testing.T, a *app) map[string]string {
	t.Helper()
	objs, err := a.store.List(context.Background(), "stages/")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".m4s") || strings.HasSuffix(o.Key, ".mp4") {
			m[o.Key] = o.ETag
		}
	}
	return m
}

// TestTalk_ReplayEndToEnd: a talk published for ~15 s, started and stopped
// through the API, becomes a VOD replay in a real MinIO bucket that ffprobe
// reads through /archive/, downloads as one MP4, re-cuts without copying
// media, and comes back whole in a fresh salon on the same bucket.
func TestTalk_ReplayEndToEnd(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	withBucket := minioArchive(t)
	a := testApp(t, withBucket)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)

	code, talk := api(t, a, "POST", "/api/talks", `{"title":"Streaming without a platform","speakers":[{"name":"Ada"}],"stage":"main","starts_at":"2026-11-25T10:00:00Z","ends_at":"2026-11-25T10:30:00Z","abstract":"How salon works."}`)
	if code != 201 {
		t.Fatalf("create talk: %d %v", code, talk)
	}
	id := talk["id"].(string)
	if code, m := api(t, a, "POST", "/api/talks/"+id+"/start", ""); code != 200 || m["live"] != true {
		t.Fatalf("start: %d %v", code, m)
	}
	time.Sleep(15 * time.Second)
	code, stopped := api(t, a, "POST", "/api/talks/"+id+"/stop", "")
	if code != 200 {
		t.Fatalf("stop: %d %v", code, stopped)
	}
	window := stopped["recording"].(map[string]any)
	start, _ := time.Parse(time.RFC3339Nano, window["start"].(string))
	end, _ := time.Parse(time.RFC3339Nano, window["end"].(string))
	stopAt := time.Now()

	playlistURL := a.httpURL("/archive/talks/" + id + "/index.m3u8")
	var pl string
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, body, _ := get(t, playlistURL)
		pl = string(body)
		if strings.Contains(pl, "#EXT-X-ENDLIST") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay is not VOD 30 s after stop:\n%s", pl)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("replay final %s after stop", time.Since(stopAt).Round(10*time.Millisecond))
	if !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(pl, "../../stages/main/") {
		t.Fatalf("replay playlist:\n%s", pl)
	}
	want := end.Sub(start).Seconds()
	got := probeDuration(t, playlistURL)
	// Whole segments (1 s here) around the window: within one segment each side.
	if got < want-1.1 || got > want+2.1 {
		t.Fatalf("replay lasts %.2f s, window %.2f s", got, want)
	}

	// The MP4 download plays.
	resp, err := http.Get(a.httpURL("/talks/" + id + "/download.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	mp4 := filepath.Join(t.TempDir(), "talk.mp4")
	f, _ := os.Create(mp4)
	n, _ := io.Copy(f, resp.Body)
	f.Close()
	resp.Body.Close()
	if resp.StatusCode != 200 || n < 10000 {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, n)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", mp4, "-f", "null", "-").CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("the downloaded MP4 does not decode cleanly: %v\n%s", err, out)
	}
	if d := probeDuration(t, mp4); d < want-1.1 || d > want+2.1 {
		t.Fatalf("the MP4 lasts %.2f s, window %.2f s", d, want)
	}

	// Re-cut: start 4 s later. The playlist changes; no segment object does.
	before := stageObjects(t, a)
	newStart := start.Add(4 * time.Second).UTC().Format(time.RFC3339Nano)
	code, m := api(t, a, "PATCH", "/api/talks/"+id, fmt.Sprintf(`{"recording":{"start":%q,"end":%q}}`, newStart, end.UTC().Format(time.RFC3339Nano)))
	if code != 200 {
		t.Fatalf("patch: %d %v", code, m)
	}
	_, body, _ := get(t, playlistURL)
	if string(body) == pl {
		t.Fatal("the replay playlist did not change after the window moved")
	}
	if d := probeDuration(t, playlistURL); d > got-2.5 {
		t.Fatalf("after moving the start 4 s later the replay lasts %.2f s (was %.2f)", d, got)
	}
	after := stageObjects(t, a)
	for k, etag := range before {
		if after[k] != etag {
			t.Fatalf("re-cut rewrote %s", k)
		}
	}
	recut := string(body)

	// A fresh salon with an empty data directory on the same bucket.
	b := testApp(t, withBucket)
	code, again := api(t, b, "GET", "/api/talks/"+id, "")
	if code != 200 || again["title"] != "Streaming without a platform" || again["ended"] != true {
		t.Fatalf("fresh salon: %d %v", code, again)
	}
	if _, body, _ := get(t, b.httpURL("/archive/talks/"+id+"/index.m3u8")); string(body) != recut {
		t.Fatal("the fresh salon serves another replay")
	}
	if code, page, _ := get(t, b.httpURL("/talks/"+id)); code != 200 || !strings.Contains(string(page), "Streaming without a platform") {
		t.Fatalf("talk page: %d", code)
	}
	if _, home, _ := get(t, b.httpURL("/")); !regexp.MustCompile(`href="/talks/` + id + `"`).Match(home) {
		t.Fatal("the home page does not list the replay")
	}
}

// TestTalk_BadInput: each refused request writes nothing.
func TestTalk_BadInput(t *testing.T) {
	a := testApp(t)
	code, m := api(t, a, "POST", "/api/talks", `{"id":"keynote","title":"Keynote","stage":"main"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	// The whole bucket and data directory, compared after each request:
	// nothing deleted, changed or added.
	snapshot := func() string { return bucketState(t, a) + "\n--\n" + dataState(t, a) }
	before := snapshot()
	cases := []struct {
		name, method, path, body string
		want                     int
	}{
		{"malformed json", "POST", "/api/talks", `{"title":`, 400},
		{"bad stage", "POST", "/api/talks", `{"title":"T","stage":"Main Hall"}`, 400},
		{"id with slash", "POST", "/api/talks", `{"id":"a/b","title":"T","stage":"main"}`, 400},
		{"id with dots", "POST", "/api/talks", `{"id":"..","title":"T","stage":"main"}`, 400},
		{"uppercase id", "POST", "/api/talks", `{"id":"Keynote","title":"T","stage":"main"}`, 400},
		{"end before start", "POST", "/api/talks", `{"title":"T","stage":"main","starts_at":"2026-11-25T11:00:00Z","ends_at":"2026-11-25T10:00:00Z"}`, 400},
		{"stop never started", "POST", "/api/talks/keynote/stop", ``, 409},
		{"patch window end before start", "PATCH", "/api/talks/keynote", `{"recording":{"start":"2026-11-25T11:00:00Z","end":"2026-11-25T10:00:00Z"}}`, 400},
		{"unknown talk", "POST", "/api/talks/nope/start", ``, 404},
		{"path id with dots", "GET", "/api/talks/..", ``, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, m := api(t, a, tc.method, tc.path, tc.body)
			if code != tc.want {
				t.Fatalf("%d %v, want %d", code, m, tc.want)
			}
			if _, ok := m["error"].(string); !ok && code >= 400 && tc.method != "GET" {
				t.Fatalf("no JSON error: %v", m)
			}
			if got := snapshot(); got != before {
				t.Fatalf("a refused request wrote:\nbefore\n%s\nafter\n%s", before, got)
			}
		})
	}
	// Start twice: the second is refused.
	if code, _ := api(t, a, "POST", "/api/talks/keynote/start", ""); code != 200 {
		t.Fatalf("start: %d", code)
	}
	// The bucket only: a live talk's chat room may write its journal.
	started := bucketState(t, a)
	if code, m := api(t, a, "POST", "/api/talks/keynote/start", ""); code != 409 {
		t.Fatalf("second start: %d %v", code, m)
	}
	if after := bucketState(t, a); after != started {
		t.Fatalf("the refused second start wrote:\nbefore\n%s\nafter\n%s", started, after)
	}
	if _, err := a.store.Stat(context.Background(), "talks/a/b/talk.json"); err == nil {
		t.Fatal("a talk with a slash in its id was written")
	}
	_ = archive.ErrNotFound
}
