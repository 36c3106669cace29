package main

import (
	"context"
	"encoding/json"
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
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtmpOut(a.rtmpURL("main", testKey)))...)
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
	// The test's own playlist fetches (waitSegments) count as a viewer for
	// salon's 10 s window; the page now plays well within it, so wait for
	// them to age out.
	for deadline := time.Now().Add(30 * time.Second); a.web.Viewers("main") != 1; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("salon counts %d viewers, want 1", a.web.Viewers("main"))
		}
	}
	poll("one viewer on the page", `document.getElementById('viewer-count').textContent === '1 watching'`)
}

// TestTalk_ReplayPlaysInBrowser: a stopped talk's page plays its replay with
// hls.js, seeks, and shows the title, speakers and download link.
func TestTalk_ReplayPlaysInBrowser(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := webtest.Browser(t)
	a := testApp(t)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"replay","title":"A <b>replay</b>","speakers":[{"name":"Ada"}],"stage":"main","abstract":"Seek me."}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	api(t, a, "POST", "/api/talks/replay/start", "")
	waitMoreSegments(t, a, "main", 10) // ~10 s of media, however slow the machine
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
	poll("the replay's duration", `document.getElementById('video').duration > 8 && document.getElementById('video').duration < 16`)
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
	stageWithTalks(t, a, "main")
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

// TestChat_ReplayFollowsVideoInBrowser: messages sent at known moments of a
// talk appear on its replay page when the video reaches them, and seeking
// shows what the audience was saying at that point.
func TestChat_ReplayFollowsVideoInBrowser(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := webtest.Browser(t)
	a := testApp(t)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"synced","title":"Synced","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	api(t, a, "POST", "/api/talks/synced/start", "")
	c, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wsRead(t, c, "welcome")
	// The messages are placed in media time: the waits count segments of
	// media, not seconds of a machine that may deliver them slowly.
	waitMoreSegments(t, a, "main", 2)
	c.WriteJSON(map[string]string{"type": "chat", "text": "early <i>bird</i>"})
	wsRead(t, c, "chat")
	waitMoreSegments(t, a, "main", 7)
	c.WriteJSON(map[string]string{"type": "question", "text": "late question"})
	wsRead(t, c, "chat")
	waitMoreSegments(t, a, "main", 3)
	api(t, a, "POST", "/api/talks/synced/stop", "")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, b, _ := get(t, a.httpURL("/archive/talks/synced/index.m3u8")); strings.Contains(string(b), "#EXT-X-ENDLIST") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no VOD replay")
		}
	}
	// Where the messages sit on the video, as the server mapped them
	// (the mapping itself is tested in archive).
	var feed struct {
		Messages []struct {
			Text string  `json:"text"`
			At   float64 `json:"at"`
		} `json:"messages"`
	}
	_, body, _ := get(t, a.httpURL("/talks/synced/chat.json"))
	if err := json.Unmarshal(body, &feed); err != nil || len(feed.Messages) != 2 {
		t.Fatalf("chat.json (%v): %s", err, body)
	}
	early, late := feed.Messages[0].At, feed.Messages[1].At
	if early < 1 || late-early < 5 {
		t.Fatalf("media times early %.2f, late %.2f: want ~7 s apart, after the start", early, late)
	}

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/talks/synced"))); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({t: video.currentTime, d: video.duration,
				log: document.getElementById('chat-log').textContent, status: document.getElementById('chat-status').textContent})`))
			t.Fatalf("waiting for %s: %v; page %s", what, err, state)
		}
	}
	seek := func(at float64) {
		t.Helper()
		js := `(function(){var v=document.getElementById('video'); v.pause(); v.currentTime=` + strconv.FormatFloat(at, 'f', 2, 64) + `; return true})()`
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatal(err)
		}
	}
	logHas := `document.getElementById('chat-log').textContent.includes(`
	poll("the replay to load", `document.getElementById('video').duration > 10`)
	seek((early + late) / 2)
	poll("the early message only, between the two", logHas+`'early <i>bird</i>') && !`+logHas+`'late question')`)
	seek(late + 1)
	poll("both messages after the late one", logHas+`'early <i>bird</i>') && `+logHas+`'late question')`)
	seek(early / 2)
	poll("no message before the first", `document.getElementById('chat-log').children.length === 0`)
	poll("the question under Questions", `document.querySelector('#chat-questions .q-text').textContent === 'late question'`)
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('#chat-log i') && document.getElementById('chat-form').hidden`))
	if err != nil || !ok {
		t.Fatalf("replay chat rendered HTML or offered a form (%v)", err)
	}
}

// TestChat_QuestionsViewInBrowser: the speaker's questions view sorts the
// audience's questions by votes, follows new votes, and with the organiser's
// token marks a question answered for everyone.
func TestChat_QuestionsViewInBrowser(t *testing.T) {
	ctx := webtest.Browser(t)
	a := testApp(t)
	stageWithTalks(t, a, "main")
	dial := func(ip string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/main", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		wsRead(t, c, "welcome")
		return c
	}
	ann, bob, cy := dial(""), dial(""), dial("")
	ann.WriteJSON(map[string]string{"type": "question", "text": "first asked, fewer votes"})
	q1 := wsRead(t, ann, "chat")
	time.Sleep(1500 * time.Millisecond) // the per-address rate limit: 3 per 2 s
	bob.WriteJSON(map[string]string{"type": "question", "text": "asked later, more votes"})
	q2 := wsRead(t, ann, "chat")

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/live/main/questions#token="+a.adminToken))); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('questions').textContent + ' / ' + document.getElementById('q-status').textContent + ' / ' + location.href`))
			t.Fatalf("waiting for %s: %v; page: %s", what, err, state)
		}
	}
	order := `Array.from(document.querySelectorAll('#questions .q-text')).map(function(e){return e.textContent}).join('|')`
	poll("both questions, oldest first while votes are equal", order+` === 'first asked, fewer votes|asked later, more votes'`)
	poll("the token kept out of the address", `!location.hash.includes('token')`)
	for _, voter := range []*websocket.Conn{ann, cy} {
		voter.WriteJSON(map[string]string{"type": "vote", "id": q2["id"].(string)})
	}
	poll("the voted question first", order+` === 'asked later, more votes|first asked, fewer votes'`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#questions li .q-answer').click(), true`)); err != nil {
		t.Fatal(err)
	}
	if f := wsRead(t, bob, "answered"); f["id"] != q2["id"] {
		t.Fatalf("answered frame %v, want %v", f, q2["id"])
	}
	poll("the answered question last", order+` === 'first asked, fewer votes|asked later, more votes' &&
		document.querySelector('#questions li:last-child').classList.contains('is-answered')`)
	_ = q1
}
