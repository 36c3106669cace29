package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/salon/salon/archive/slidetest"
	"github.com/salon/salon/web/webtest"
)

// a11yDay is a salon with something on every page: stage main published by
// ffmpeg, a live talk with a PDF deck, chat and a question, an ended talk,
// a speaker link, and a console session in the browser.
type a11yDay struct {
	a            *app
	speakerToken string
	question     string // the question's id in the chat
}

// newA11yDay starts the salon, publishes and fills it.
func newA11yDay(t *testing.T) *a11yDay {
	t.Helper()
	needTools(t, "ffmpeg")
	a := testApp(t)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtmpOut(a.rtmpURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)
	d := &a11yDay{a: a}

	if code, m := api(t, a, "POST", "/api/talks", `{"id":"opening","title":"开幕致辞 Opening","speakers":[{"name":"王小明"}],"stage":"main"}`); code != 201 {
		t.Fatalf("create opening: %d %v", code, m)
	}
	api(t, a, "POST", "/api/talks/opening/start", "")
	waitMoreSegments(t, a, "main", 2)
	api(t, a, "POST", "/api/talks/opening/stop", "")
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"keynote","title":"用 Go 写直播服务器：一天的经验","speakers":[{"name":"李雷"},{"name":"Ada Lovelace"}],"stage":"main","abstract":"从摄像机到回放。"}`); code != 201 {
		t.Fatalf("create keynote: %d %v", code, m)
	}
	if code, m := api(t, a, "POST", "/api/talks/keynote/start", ""); code != 200 {
		t.Fatalf("start keynote: %d %v", code, m)
	}
	d.speakerToken, _ = speakerLink(t, a, "keynote")
	deck := slidetest.PDF(4, "salon")
	if code, m, _ := uploadSlides(t, a.httpURL("/api/talks/keynote/slides"), d.speakerToken, "幻灯片.pdf", bytes.NewReader(deck), int64(len(deck)), uploadOpts{}); code != 201 {
		t.Fatalf("upload slides: %d %v", code, m)
	}

	// Chat: a few messages and a question, from another viewer.
	c, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	wsRead(t, c, "welcome")
	c.WriteJSON(map[string]string{"type": "hello", "name": "韩梅梅"})
	for _, text := range []string{"大家好！", "Hello from Berlin 👋 — the sound is clear"} { // the burst is 3 messages
		c.WriteJSON(map[string]string{"type": "chat", "text": text})
		wsRead(t, c, "chat")
	}
	c.WriteJSON(map[string]string{"type": "question", "text": "回放什么时候可以看？"})
	q := wsRead(t, c, "chat")
	d.question, _ = q["id"].(string)
	return d
}

// a11yPage is one page of the tour and what tells it is ready.
type a11yPage struct {
	name, path string
	ready      string // JS expression, true when the page has settled
	watch      bool   // a watch page: player and chat must be in view
	console    bool   // needs the console session
}

func (d *a11yDay) pages() []a11yPage {
	chatReady := `document.getElementById('chat-status').hidden && document.querySelectorAll('#chat-log li').length >= 3`
	return []a11yPage{
		{name: "home", path: "/", ready: `!!document.querySelector('.stage-card')`},
		{name: "live", path: "/live/main", watch: true, ready: chatReady + ` && document.getElementById('video').readyState >= 2`},
		{name: "talk-live", path: "/talks/keynote", watch: true, ready: chatReady + ` && document.getElementById('video').readyState >= 2 && document.getElementById('slides').dataset.rendered === '1'`},
		{name: "talk-replay", path: "/talks/opening", ready: `document.getElementById('video').readyState >= 1`},
		{name: "room", path: "/live/main/room", ready: `!!document.getElementById('room-title').textContent`},
		{name: "questions", path: "/live/main/questions", ready: `document.querySelectorAll('#questions li').length >= 1`},
		{name: "speak", path: "/speak/keynote?token=" + d.speakerToken, ready: `document.getElementById('slides').dataset.rendered === '1'`},
		{name: "error", path: "/talks/no-such-talk", ready: `true`},
		{name: "login", path: "/admin/login", ready: `!!document.getElementById('token')`},
		{name: "admin", path: "/admin", console: true, ready: `!!document.querySelector('main.admin')`},
		{name: "admin-talk", path: "/admin/talks/keynote", console: true, ready: `!!document.querySelector('main')`},
		{name: "admin-schedule", path: "/admin/schedule", console: true, ready: `!!document.querySelector('main')`},
		{name: "admin-sponsors", path: "/admin/sponsors", console: true, ready: `!!document.querySelector('main')`},
		{name: "admin-chat", path: "/admin/stages/main/chat", console: true, ready: `!!document.querySelector('main')`},
		{name: "stats", path: "/admin/stats", console: true, ready: `!!document.querySelector('main')`},
	}
}

// TestPages_LayoutAndAxe opens every page at 1366×768, 1920×1080 and
// 390×844 in English, and again in Simplified Chinese at 1366×768 (the
// tightest of the laptop layouts; every viewport in both languages would
// double the test's minutes): on the watch pages the video, the chat's
// messages and its input are in view without scrolling on the laptop sizes,
// and on the phone the video is on top and stays there; no page is wider
// than the screen; axe-core finds no violation. SALON_SCREENSHOTS=dir
// keeps a screenshot of each.
func TestPages_LayoutAndAxe(t *testing.T) {
	d := newA11yDay(t)
	ctx := webtest.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	loggedIn := false
	langs := []struct {
		tag       string
		viewports []webtest.Viewport
	}{
		{"en", webtest.Viewports},
		{"zh-CN", webtest.Viewports[:1]},
	}
	// Page by page, both languages: the login page must come before the
	// console session (logged in, it sends to /admin).
	for _, p := range d.pages() {
		for _, l := range langs {
			for _, vp := range l.viewports {
				t.Run(l.tag+"/"+p.name+"/"+vp.Name, func(t *testing.T) {
					if p.console && !loggedIn {
						consoleLogIn(t, ctx, d.a)
						loggedIn = true
					}
					// ?lang= on every page: it also sets the cookie, and the
					// page's own links and scripts must keep the language.
					path := withLang(p.path, l.tag)
					if err := chromedp.Do(ctx, vp.Emulate(), chromedp.Navigate(d.a.httpURL(path))); err != nil {
						t.Fatalf("open %s: %v", path, err)
					}
					a11yPoll(t, ctx, p.name+" to settle", p.ready)
					a11yPoll(t, ctx, p.name+" in "+l.tag, `document.documentElement.lang === '`+l.tag+`'`)
					webtest.Screenshot(t, ctx, p.name+"-"+vp.Name+"-"+l.tag)
					if over, err := webtest.HorizontalOverflow(ctx); err != nil || over > 1 {
						t.Errorf("%s at %s: the page is %.0f px wider than the screen (%v)", path, vp.Name, over, err)
					}
					if p.watch {
						checkWatchLayout(t, ctx, vp)
					}
					webtest.CheckAxe(t, ctx, path+" at "+vp.Name)
				})
			}
		}
	}
}

// withLang is path with ?lang=tag added.
func withLang(path, tag string) string {
	if strings.Contains(path, "?") {
		return path + "&lang=" + tag
	}
	return path + "?lang=" + tag
}

// checkWatchLayout: the player and the chat in view.
func checkWatchLayout(t *testing.T, ctx context.Context, vp webtest.Viewport) {
	t.Helper()
	sels := []string{"#video", "#chat-log", "#chat-text", "#chat"}
	boxes, err := webtest.Boxes(ctx, sels...)
	if err != nil {
		t.Fatal(err)
	}
	describe := func() string {
		var b strings.Builder
		for _, s := range sels {
			fmt.Fprintf(&b, " %s %v;", s, boxes[s])
		}
		return b.String()
	}
	for _, s := range []string{"#video", "#chat-log", "#chat-text"} {
		if !boxes[s].Within(vp) {
			t.Errorf("at %s (%dx%d) %s is not wholly in view without scrolling:%s", vp.Name, vp.Width, vp.Height, s, describe())
		}
	}
	if w := boxes["#chat-text"].Width; w < 150 {
		t.Errorf("at %s the message box is only %.0f px wide:%s", vp.Name, w, describe())
	}
	video, chat := boxes["#video"], boxes["#chat"]
	if !vp.Mobile {
		if chat.Left < video.Right-1 {
			t.Errorf("at %s the chat is not beside the video:%s", vp.Name, describe())
		}
		if video.Width < float64(vp.Width)*0.4 { // 0.4: a talk's slides may sit beside it
			t.Errorf("at %s the video is only %.0f px wide:%s", vp.Name, video.Width, describe())
		}
		// A talk's slides: beside the player on the wide screen, below it
		// on the laptop.
		sl, err := webtest.Boxes(ctx, "#slides:not([hidden])")
		if err != nil {
			t.Fatal(err)
		}
		if s := sl["#slides:not([hidden])"]; s.Found {
			if beside := s.Left >= video.Right-1; beside != (vp.Name == "wide") {
				t.Errorf("at %s the slides %v are beside the video %v: %v", vp.Name, s, video, beside)
			}
		}
		return
	}
	// The phone: the video above the chat, the screen's width, and still on
	// top once the page is scrolled to the chat's input.
	if video.Bottom > chat.Top+1 || video.Width < float64(vp.Width)-1 {
		t.Errorf("on the phone the video is not on top, full width:%s", describe())
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, document.documentElement.scrollHeight), true`)); err != nil {
		t.Fatal(err)
	}
	boxes, err = webtest.Boxes(ctx, sels...)
	if err != nil {
		t.Fatal(err)
	}
	if v := boxes["#video"]; v.Top < -1 || v.Top > 1 {
		t.Errorf("on the phone, scrolled down, the video does not stay at the top:%s", describe())
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
		t.Fatal(err)
	}
}

// a11yPoll waits (up to 60 s) until expr is true in the page.
func a11yPoll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + ' ' + document.body.innerText.slice(0, 600)`))
		t.Fatalf("waiting for %s: %v; page: %s", what, err, page)
	}
}
