package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

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

// TestTalk_ReplayPlaysInBrowser: a stopped talk's page plays its replay with
// hls.js, seeks, and shows the title, speakers and download link.
func TestTalk_ReplayPlaysInBrowser(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := webtest.Browser(t)
	a := testApp(t)
	startProc(t, "ffmpeg", ffmpegArgs("120", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"replay","title":"A <b>replay</b>","speakers":[{"name":"Ada"}],"stage":"main","abstract":"Seek me."}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	api(t, a, "POST", "/api/talks/replay/start", "")
	time.Sleep(10 * time.Second)
	api(t, a, "POST", "/api/talks/replay/stop", "")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, b, _ := get(t, a.httpURL("/archive/talks/replay/index.m3u8")); strings.Contains(string(b), "#EXT-X-ENDLIST") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no VOD replay")
		}
	}

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/talks/replay"))); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({t: video.currentTime, d: video.duration, rs: video.readyState})`))
			t.Fatalf("waiting for %s: %v; video %s", what, err, state)
		}
	}
	poll("the replay's duration", `document.getElementById('video').duration > 8 && document.getElementById('video').duration < 14`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){var v=document.getElementById('video'); v.muted=true; v.currentTime=6; v.play(); return true})()`)); err != nil {
		t.Fatal(err)
	}
	poll("playback after seeking to 6 s", `document.getElementById('video').currentTime > 6.5`)
	poll("the page's text", `document.getElementById('talk-title').textContent === 'A <b>replay</b>' &&
		document.getElementById('talk-speakers').textContent === 'Ada' && !document.getElementById('download').hidden &&
		document.getElementById('badge').textContent === 'Replay'`)
}

// TestChat_HTMLShownAsTextInBrowser: a message with HTML shows as text on
// another viewer's live page, and no script runs.
func TestChat_HTMLShownAsTextInBrowser(t *testing.T) {
	ctx := webtest.Browser(t)
	a := testApp(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/live/main"))); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			log, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('chat-log').innerHTML + ' / ' + document.getElementById('chat-status').textContent`))
			t.Fatalf("waiting for %s: %v; chat: %s", what, err, log)
		}
	}
	poll("the chat to connect", `document.getElementById('chat-status').hidden`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__xss = 0; true`)); err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wsRead(t, c, "welcome")
	const evil = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`
	c.WriteJSON(map[string]string{"type": "hello", "name": "<b>Mallory</b>"})
	c.WriteJSON(map[string]string{"type": "chat", "text": evil})
	poll("the message as text", `(function(){var b=document.querySelector('#chat-log .chat-body');
		return !!b && b.textContent === `+strconv.Quote(evil)+` && document.querySelector('#chat-log .chat-who').textContent === '<b>Mallory</b>'})()`)
	time.Sleep(500 * time.Millisecond) // give an injected onerror a chance to fire
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__xss === 0 && !document.querySelector('#chat-log img, #chat-log script, #chat-log b')`))
	if err != nil || !ok {
		t.Fatalf("HTML in chat was rendered or ran (%v)", err)
	}
}
