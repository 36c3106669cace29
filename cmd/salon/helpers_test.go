package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/internal/testkit"
)

const testKey = "test-publish-key"

// testApp starts a salon on loopback ports chosen by the kernel, with 1 s
// segments so that tests are quick.
func testApp(t testing.TB, mutate ...func(*Config)) *app {
	t.Helper()
	a, _ := testAppLog(t, mutate...)
	return a
}

// testAppLog is testApp that also returns the writer holding salon's log.
func testAppLog(t testing.TB, mutate ...func(*Config)) (*app, *testLogWriter) {
	t.Helper()
	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.RTSP = "127.0.0.1:0"
	cfg.RTMP = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.PublishKey = testKey
	cfg.AdminToken = "test-admin-token"
	cfg.SegmentDuration = time.Second
	cfg.Window = 10 * time.Second
	cfg.Archive = filepath.Join(cfg.Data, "archive")
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logw := &testLogWriter{t: t}
	a, err := startApp(cfg, slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		logw.stop()
	})
	return a, logw
}

func (a *app) httpURL(path string) string { return "http://" + a.web.Addr() + path }
func (a *app) rtspURL(stage, key string) string {
	return fmt.Sprintf("rtsp://%s/live/%s?key=%s", a.rtsp.Addr(), stage, key)
}
func (a *app) rtmpURL(stage, key string) string {
	return fmt.Sprintf("rtmp://%s/live/%s?key=%s", a.rtmp.Addr(), stage, key)
}

// testLogWriter sends salon's log to t.Log and also keeps it for assertions.
type testLogWriter struct {
	t       testing.TB
	mu      sync.Mutex
	buf     bytes.Buffer
	stopped bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() { w.mu.Lock(); w.stopped = true; w.mu.Unlock() }

// String is everything logged so far.
func (w *testLogWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.String() }

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install ffmpeg chromium; .ci/run installs them)", tool)
		}
	}
}

// publisher is an ffmpeg (or gst-launch) process publishing to salon.
type publisher struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// syncBuffer collects a child process's stderr or a log while tests read it.
type syncBuffer = testkit.LogBuffer

// startProc runs name with args until the test ends or it is killed.
func startProc(t *testing.T, name string, args ...string) *publisher {
	t.Helper()
	p := &publisher{cmd: exec.Command(name, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

func (p *publisher) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits for the process to exit by itself.
func (p *publisher) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		t.Fatalf("%s still running after %s; stderr:\n%s", p.cmd.Path, d, p.stderr.String())
		return nil
	}
}

// Test sources: small, generated on the fly.
var (
	srcVideo = []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"}
	srcAudio = []string{"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	encH264  = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", "-bf", "2"}
	encH265  = []string{"-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x265-params", "keyint=30:min-keyint=30:log-level=error"}
	encAAC   = []string{"-c:a", "aac", "-b:a", "64k"}
	encOpus  = []string{"-c:a", "libopus", "-b:a", "64k"}
)

// ffmpegArgs joins parts into ffmpeg's arguments; the last part is the
// output. dur, when set, ends the publish after that long (ffmpeg's -t as an
// output option, so it goes before the output: after it ffmpeg ignores it).
// "" publishes until the test kills the process or ends (startProc's
// cleanup kills it either way).
func ffmpegArgs(dur string, parts ...[]string) []string {
	args := []string{"-hide_banner", "-v", "error"}
	for i, p := range parts {
		if i == len(parts)-1 && dur != "" {
			args = append(args, "-t", dur)
		}
		args = append(args, p...)
	}
	return args
}

func rtspOut(url string) []string { return []string{"-f", "rtsp", "-rtsp_transport", "tcp", url} }
func rtmpOut(url string) []string { return []string{"-f", "flv", url} }

// get fetches url and returns status and body.
func get(t *testing.T, url string) (int, []byte, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b, resp.Header
}

// waitSegments polls the stage's playlist until it lists at least n segments.
func waitSegments(t *testing.T, a *app, stage string, n int, within time.Duration) string {
	t.Helper()
	return waitSegmentsAt(t, a.web.Addr(), stage, n, within)
}

// waitMoreSegments waits until the stage's live playlist has n segments
// more than now: about n segment durations of media, however slowly a loaded
// machine's publisher delivers them. Tests that want "a few seconds of the
// talk" wait on this instead of sleeping, so that what they measure later
// (media times, replay durations) follows the media, not the wall clock.
func waitMoreSegments(t *testing.T, a *app, stage string, n int) {
	t.Helper()
	_, body, _ := get(t, a.httpURL("/live/"+stage+"/index.m3u8"))
	from := lastSegment(t, string(body))
	deadline := time.Now().Add(time.Duration(n)*10*time.Second + 30*time.Second)
	for {
		_, body, _ := get(t, a.httpURL("/live/"+stage+"/index.m3u8"))
		if lastSegment(t, string(body)) >= from+n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stage %s did not advance %d segments from %d:\n%s", stage, n, from, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSegmentsAt is waitSegments for a salon at httpAddr (a child process).
func waitSegmentsAt(t *testing.T, httpAddr, stage string, n int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		code, body, _ := getQuiet("http://" + httpAddr + "/live/" + stage + "/index.m3u8")
		last = string(body)
		if code == 200 && strings.Count(last, "#EXTINF") >= n {
			return last
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("stage %s: fewer than %d segments after %s; last playlist:\n%s", stage, n, within, last)
	return ""
}

func tempFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitArchived polls url until it answers 200 and returns the body: the
// programme's worker saves a stopped talk's chat and slide changes after
// the stop is acknowledged.
func waitArchived(t *testing.T, url string, within time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body, err := getQuiet(url)
		if err == nil && code == 200 {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not there %s after the stop: %d %v %s", url, within, code, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stageWithTalks gives a stage that nobody publishes to a talk, so that it
// has a chat room (rooms exist for stages that are live or have talks).
func stageWithTalks(t *testing.T, a *app, stage string) {
	t.Helper()
	if code, m := api(t, a, "POST", "/api/talks", `{"title":"Chat room of `+stage+`","stage":"`+stage+`"}`); code != 201 {
		t.Fatalf("create a talk on %s: %d %v", stage, code, m)
	}
}
