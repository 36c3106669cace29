package web

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/webtest"
)

// dirLive serves the HLS files ffmpeg writes into dir, waiting for the
// playlist like the hls package does for a publish that is starting.
type dirLive struct{ dir string }

func (d dirLive) File(ctx context.Context, stage, name string) ([]byte, string, bool) {
	if stage != "main" {
		return nil, "", false
	}
	for {
		b, err := os.ReadFile(filepath.Join(d.dir, name))
		if err == nil {
			return b, "", true
		}
		if name != "index.m3u8" {
			return nil, "", false
		}
		select {
		case <-ctx.Done():
			return nil, "", false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d dirLive) Playlist(ctx context.Context, stage string, msn, part int64, skip bool) ([]byte, int) {
	b, _, ok := d.File(ctx, stage, "index.m3u8")
	if !ok {
		return nil, http.StatusNotFound
	}
	return b, http.StatusOK
}

// startFFmpegHLS writes a live fMP4 HLS stream with salon's file names into
// dir until the test ends.
func startFFmpegHLS(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "120",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "30",
		"-c:a", "aac", "-b:a", "64k",
		"-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "1", "-hls_list_size", "10",
		"-hls_playlist_type", "event", "-hls_flags", "temp_file",
		"-hls_fmp4_init_filename", "init-1.mp4",
		"-hls_segment_filename", filepath.Join(dir, "%d.m4s"),
		filepath.Join(dir, "index.m3u8"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// TestServer_LivePageBrowser opens the live page in Chromium before the stage
// is live, starts the stream, and checks that the page starts playing by
// itself and goes back to "offline" when the stream ends.
func TestServer_LivePageBrowser(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg): skipping the browser test")
	}
	ctx := webtest.Browser(t)

	dir := t.TempDir()
	stages := &fakeStages{}
	s, base := startServer(t, dirLive{dir}, stages)
	if !s.assets.hasHLS {
		t.Skip("hls.js is not vendored: run go generate ./web")
	}

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 860),
		chromedp.Navigate(base+"/live/main"),
	); err != nil {
		t.Fatalf("open the live page: %v", err)
	}
	waitJS(ctx, t, "the offline message", `document.getElementById('overlay-text').textContent.includes('waiting for the stream')`)

	startFFmpegHLS(t, dir)
	since := time.Now().UTC()
	stages.mu.Lock()
	stages.stages = []stream.StageInfo{{Name: "main", Live: true, Since: &since, Source: "rtmp", Tracks: []stream.TrackInfo{
		{Kind: "video", Codec: "H264", Width: 640, Height: 360, FrameRate: 30, KeyframeInterval: 1, Bitrate: 900_000},
		{Kind: "audio", Codec: "AAC", SampleRate: 48000, Channels: 1, Bitrate: 64_000},
	}}}
	stages.mu.Unlock()

	waitJS(ctx, t, "playback to start", `document.getElementById('video').currentTime > 0`)
	start, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('video').currentTime`))
	if err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, "3 s of playback", `document.getElementById('video').currentTime > `+strconv.FormatFloat(start+3, 'f', 3, 64))
	if n := s.Viewers("main"); n != 1 {
		t.Errorf("Viewers(main) = %d while one page plays, want 1", n)
	}
	waitJS(ctx, t, "the viewer count", `document.getElementById('viewer-count').textContent === '1 watching'`)
	waitJS(ctx, t, "the live badge", `document.getElementById('badge').textContent === 'Live'`)

	screenshot(ctx, t, "")

	stages.mu.Lock()
	stages.stages = []stream.StageInfo{{Name: "main"}}
	stages.mu.Unlock()
	waitJS(ctx, t, "the page to show the stage offline", `document.getElementById('badge').textContent === 'Offline' && !document.getElementById('overlay').hidden`)
	screenshot(ctx, t, "-offline")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	screenshot(ctx, t, "-home")

	if os.Getenv("SALON_SCREENSHOT") != "" {
		stages.mu.Lock()
		stages.stages[0].Live = true
		stages.mu.Unlock()
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
			chromedp.Navigate(base+"/live/main"),
		); err != nil {
			t.Fatal(err)
		}
		waitJS(ctx, t, "playback on a phone", `document.getElementById('video').currentTime > 1`)
		screenshot(ctx, t, "-mobile")
	}
}

// waitJS waits until the expression is true in the page.
func waitJS(ctx context.Context, t *testing.T, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
			currentTime: document.getElementById('video').currentTime,
			readyState: document.getElementById('video').readyState,
			error: document.getElementById('video').error && document.getElementById('video').error.message,
			overlay: document.getElementById('overlay').hidden ? '' : document.getElementById('overlay-text').textContent,
			badge: document.getElementById('badge').textContent,
		})`))
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting for %s: gave up (page state %s)", what, state)
		}
		t.Fatalf("waiting for %s: %v (page state %s)", what, err, state)
	}
}

// screenshot saves the page as PNG when SALON_SCREENSHOT names a file
// (e.g. /tmp/salon-live.png); suffix goes before the extension.
func screenshot(ctx context.Context, t *testing.T, suffix string) {
	t.Helper()
	path := os.Getenv("SALON_SCREENSHOT")
	if path == "" {
		return
	}
	ext := filepath.Ext(path)
	path = strings.TrimSuffix(path, ext) + suffix + ext
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot in %s", path)
}
