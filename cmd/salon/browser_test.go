package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salon/salon/web/webtest"
)

// TestLive_BrowserPlays publishes with ffmpeg over RTMP (as OBS does) and
// plays the live page in headless Chromium with hls.js: the whole live path.
func TestLive_BrowserPlays(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := webtest.Browser(t)
	a := testApp(t)
	startProc(t, "ffmpeg", ffmpegArgs("120", srcVideo, srcAudio, encH264, encAAC, rtmpOut(a.rtmpURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/live/main"))); err != nil {
		t.Fatalf("open the live page: %v", err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({t: document.getElementById('video').currentTime,
				rs: document.getElementById('video').readyState, err: document.getElementById('video').error && document.getElementById('video').error.message})`))
			t.Fatalf("waiting for %s: %v; video %s", what, err, state)
		}
	}
	poll("playback to start", `document.getElementById('video').currentTime > 0`)
	start, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('video').currentTime`))
	if err != nil {
		t.Fatal(err)
	}
	poll("3 s of playback", `document.getElementById('video').currentTime > `+strconv.FormatFloat(start+3, 'f', 3, 64))
	poll("the live badge and one viewer", `document.getElementById('badge').textContent === 'Live' &&
		document.getElementById('viewer-count').textContent === '1 watching'`)
	if n := a.web.Viewers("main"); n != 1 {
		t.Fatalf("salon counts %d viewers, want 1", n)
	}
}
