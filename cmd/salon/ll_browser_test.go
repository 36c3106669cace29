package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salon/salon/web/webtest"
)

// TestLive_BrowserLowLatency plays the live page of an ffmpeg-fed stage in
// Chromium: hls.js in low-latency mode loads parts, playback advances, the
// page shows how far behind live it is, and after a pause the "Go live"
// button appears and brings the player back to the edge.
func TestLive_BrowserLowLatency(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := webtest.Browser(t)
	a := testApp(t, lowLatency)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)

	ctx, cancel := context.WithTimeout(ctx, 150*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768), chromedp.Navigate(a.httpURL("/live/main"))); err != nil {
		t.Fatalf("open the live page: %v", err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({t: document.getElementById('video').currentTime,
				paused: document.getElementById('video').paused, rs: document.getElementById('video').readyState,
				edge: Object.assign({hidden: document.getElementById('live-edge').hidden}, document.getElementById('live-edge').dataset),
				behind: document.getElementById('behind-text').textContent, goLive: !document.getElementById('go-live').hidden,
				ll: !document.getElementById('ll-tag').hidden})`))
			t.Fatalf("waiting for %s: %v; page %s", what, err, state)
		}
	}
	poll("playback to start", `document.getElementById('video').currentTime > 0`)
	start, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('video').currentTime`))
	if err != nil {
		t.Fatal(err)
	}
	poll("3 s of playback", `document.getElementById('video').currentTime > `+strconv.FormatFloat(start+3, 'f', 3, 64))
	poll("hls.js to load parts and say so", `Number(document.getElementById('live-edge').dataset.parts) >= 10 &&
		!document.getElementById('ll-tag').hidden`)
	poll("the distance to live", `/^\d+\.\d s behind live$/.test(document.getElementById('behind-text').textContent) &&
		!document.getElementById('live-edge').hidden`)
	behind, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('live-edge').dataset.behind`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hls.js plays %s s behind the playlist's live edge", behind)
	screenshotLL(ctx, t, "laptop")

	// Paused, the player falls behind; "Go live" takes it back.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('video').pause(), true`)); err != nil {
		t.Fatal(err)
	}
	poll("the Go live button once more than 3 s behind", `!document.getElementById('go-live').hidden &&
		Number(document.getElementById('live-edge').dataset.behind) > 3`)
	screenshotLL(ctx, t, "laptop-behind")
	if err := chromedp.Do(ctx, chromedp.Click("#go-live")); err != nil {
		t.Fatal(err)
	}
	poll("playing near the edge again", `!document.getElementById('video').paused &&
		Number(document.getElementById('live-edge').dataset.behind) < 3 && document.getElementById('go-live').hidden`)

	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Navigate(a.httpURL("/live/main")),
	); err != nil {
		t.Fatal(err)
	}
	poll("playback on a phone", `document.getElementById('video').currentTime > 1 && !document.getElementById('live-edge').hidden`)
	screenshotLL(ctx, t, "phone")
}

// screenshotLL saves the whole page as PNG into webtest.ScreenshotDir, when set.
func screenshotLL(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	dir := webtest.ScreenshotDir(t)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, "live-ll-"+strings.ReplaceAll(name, " ", "-")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot in %s", path)
}
