package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"

	"github.com/salon/salon/archive/slidetest"
	"github.com/salon/salon/web/webtest"
)

// TestSlides_SyncLiveAndReplayInBrowser: during a live talk the speaker turns
// pages on the presenter view with the keys a clicker sends; a viewer's talk
// page follows (until the viewer browses away, and again after "Follow the
// speaker"). After the stop, the replay turns the pages at the recorded
// moments of the video. Real ffmpeg, MinIO and Chromium.
func TestSlides_SyncLiveAndReplayInBrowser(t *testing.T) {
	needTools(t, "ffmpeg")
	browser := webtest.Browser(t)
	mb := newMinioBucket(t)
	a := testApp(t, mb.config)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"sync","title":"In sync","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	token, link := speakerLink(t, a, "sync")
	deck := slidetest.PDF(4, "sync")
	if code, m, _ := uploadSlides(t, a.httpURL("/api/talks/sync/slides"), token, "deck.pdf", bytes.NewReader(deck), int64(len(deck)), uploadOpts{}); code != 201 {
		t.Fatalf("upload: %d %v", code, m)
	}
	// Before the talk is live, a page change is refused: nobody is watching.
	if code, _ := apiURL(t, a.httpURL("/api/talks/sync/slide"), token, "POST", `{"page":2}`); code != 409 {
		t.Fatalf("page change before the start: %d, want 409", code)
	}
	if code, m := api(t, a, "POST", "/api/talks/sync/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	for _, c := range []struct {
		token, body string
		want        int
	}{
		{"", `{"page":2}`, 401},
		{"not-a-token", `{"page":2}`, 401},
		{token, `{"page":0}`, 400},
		{token, `{"page":"two"}`, 400},
	} {
		if code, m := apiURL(t, a.httpURL("/api/talks/sync/slide"), c.token, "POST", c.body); code != c.want {
			t.Errorf("page change %s with token %q: %d %v, want %d", c.body, c.token, code, m, c.want)
		}
	}
	// The speaker marks the audience's questions answered with the same link.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	wsRead(t, ws, "welcome")
	ws.WriteJSON(map[string]string{"type": "question", "text": "Which clicker?"})
	q := wsRead(t, ws, "chat")
	if code, m := apiURL(t, a.httpURL("/api/stages/main/chat/messages/"+q["id"].(string)+"/answered"), token, "POST", ""); code != 204 {
		t.Fatalf("the speaker marks a question answered: %d %v", code, m)
	}
	if code, _ := apiURL(t, a.httpURL("/api/stages/other/chat/messages/"+q["id"].(string)+"/answered"), token, "POST", ""); code != 403 {
		t.Fatalf("the speaker on another stage: %d, want 403", code)
	}

	ctx, cancel := context.WithTimeout(browser, 150*time.Second)
	defer cancel()
	viewer, closeViewer := chromedp.NewContext(ctx)
	defer closeViewer()
	presenter, closePresenter := chromedp.NewContext(ctx)
	defer closePresenter()
	poll := func(tab context.Context, what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			state, _ := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify({url: location.pathname,
				slides: document.getElementById('slides') && Object.assign({}, document.getElementById('slides').dataset),
				follow: document.getElementById('slides-follow') && document.getElementById('slides-follow').textContent,
				status: document.getElementById('present-status') && document.getElementById('present-status').textContent,
				t: document.getElementById('video') && document.getElementById('video').currentTime})`))
			t.Fatalf("waiting for %s: %v; page %s", what, err, state)
		}
	}
	rendered := func(page int) string {
		return `document.getElementById('slides').dataset.rendered === '` + strconv.Itoa(page) + `'`
	}

	if err := chromedp.Do(viewer, chromedp.Navigate(a.httpURL("/talks/sync"))); err != nil {
		t.Fatal(err)
	}
	poll(viewer, "the viewer's deck", rendered(1))
	if err := chromedp.Do(presenter, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	poll(presenter, "the presenter's deck", rendered(1))

	turn := func(key string, page int) {
		t.Helper()
		if err := chromedp.Do(presenter, chromedp.KeyEvent(key)); err != nil {
			t.Fatal(err)
		}
		poll(presenter, "the presenter on page "+strconv.Itoa(page), rendered(page)+
			` && document.getElementById('present-status').textContent === 'Viewers see page `+strconv.Itoa(page)+`.'`)
	}
	turn(kb.PageDown, 2) // what a clicker sends
	poll(viewer, "the viewer following to page 2", rendered(2)+` && document.getElementById('slides-follow').getAttribute('aria-pressed') === 'true'`)
	// Page turns a few seconds of media apart (the replay check seeks ±1 s
	// around each): counted in segments, not wall-clock seconds.
	waitMoreSegments(t, a, "main", 4)
	turn(kb.ArrowRight, 3)
	poll(viewer, "the viewer following to page 3", rendered(3))

	// The viewer browses back: following stops, and the speaker's next page
	// does not pull them away until they ask.
	if err := chromedp.Do(viewer, chromedp.Click(chromedp.CSS("#slides-prev"))); err != nil {
		t.Fatal(err)
	}
	poll(viewer, "the viewer on page 2, not following", rendered(2)+` && document.getElementById('slides-follow').getAttribute('aria-pressed') === 'false'`)
	waitMoreSegments(t, a, "main", 4)
	turn(kb.PageDown, 4)
	time.Sleep(time.Second)
	poll(viewer, "the viewer still on page 2", rendered(2))
	if err := chromedp.Do(viewer, chromedp.Click(chromedp.CSS("#slides-follow"))); err != nil {
		t.Fatal(err)
	}
	poll(viewer, "the viewer back with the speaker on page 4", rendered(4)+` && document.getElementById('slides-follow').getAttribute('aria-pressed') === 'true'`)
	waitMoreSegments(t, a, "main", 3)
	if code, m := api(t, a, "POST", "/api/talks/sync/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}

	// The changes are kept with the talk and as a WebVTT track, by the
	// programme's worker right after the stop.
	waitArchived(t, a.httpURL("/archive/talks/sync/slides.vtt"), 30*time.Second)
	code, talk := api(t, a, "GET", "/api/talks/sync", "")
	if changes, _ := talk["slide_changes"].([]any); code != 200 || len(changes) != 3 || talk["slides_track_url"] == nil {
		t.Fatalf("talk after stop: %d %v", code, talk)
	}
	var vtt []byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, pl, _ := get(t, a.httpURL("/archive/talks/sync/index.m3u8"))
		_, vtt, _ = get(t, a.httpURL("/archive/talks/sync/slides.vtt"))
		if strings.Contains(string(pl), "#EXT-X-ENDLIST") && bytes.HasPrefix(vtt, []byte("WEBVTT")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no VOD replay with a slide track:\n%s", vtt)
		}
	}
	cues := regexp.MustCompile(`(\d\d):(\d\d):(\d\d)\.(\d{3}) --> [^\n]+\nSlide (\d+)`).FindAllStringSubmatch(string(vtt), -1)
	if len(cues) != 3 || cues[0][5] != "2" || cues[1][5] != "3" || cues[2][5] != "4" {
		t.Fatalf("slides.vtt:\n%s", vtt)
	}
	at := func(c []string) float64 {
		h, _ := strconv.Atoi(c[1])
		m, _ := strconv.Atoi(c[2])
		s, _ := strconv.Atoi(c[3])
		ms, _ := strconv.Atoi(c[4])
		return float64(h*3600+m*60+s) + float64(ms)/1000
	}
	t.Logf("slide track: page 2 at %.2f s, 3 at %.2f s, 4 at %.2f s", at(cues[0]), at(cues[1]), at(cues[2]))

	// The replay: seeking lands on the page shown at that moment (±1 s).
	if err := chromedp.Do(viewer, chromedp.Navigate(a.httpURL("/talks/sync"))); err != nil {
		t.Fatal(err)
	}
	poll(viewer, "the replay and its deck", `document.getElementById('video').duration > 10 && document.getElementById('slides').dataset.pages === '4'`)
	seek := func(sec float64) {
		t.Helper()
		js := `(function(){var v=document.getElementById('video'); v.pause(); v.currentTime=` + strconv.FormatFloat(sec, 'f', 2, 64) + `; return true})()`
		if _, err := chromedp.Run(viewer, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cues {
		page, _ := strconv.Atoi(c[5])
		seek(at(c) + 1)
		poll(viewer, "page "+c[5]+" a second after its turn", rendered(page))
		seek(at(c) - 1)
		before := 1
		if i > 0 {
			before, _ = strconv.Atoi(cues[i-1][5])
		}
		poll(viewer, "page "+strconv.Itoa(before)+" a second before page "+c[5], rendered(before))
	}
}
