package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salon/salon/web/webtest"
)

// TestPages_KeyboardOnly: on a live talk's page a viewer, with key presses
// only (no mouse, no DOM calls), sends a chat message, votes a question,
// turns a slide, seeks the player and switches theater mode on.
func TestPages_KeyboardOnly(t *testing.T) {
	d := newA11yDay(t)
	ctx := webtest.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	vp := webtest.Viewports[0]
	if err := chromedp.Do(ctx, vp.Emulate(), chromedp.Navigate(d.a.httpURL("/talks/keynote"))); err != nil {
		t.Fatal(err)
	}
	a11yPoll(t, ctx, "the page", `document.getElementById('chat-status').hidden && document.getElementById('slides').dataset.rendered === '1' &&
		document.getElementById('video').readyState >= 1 && document.getElementById('video').seekable.length > 0 &&
		document.getElementById('video').seekable.end(0) > 4`)
	tabTo := func(sel string, back bool) {
		t.Helper()
		if err := webtest.TabTo(ctx, sel, 60, back); err != nil {
			t.Fatal(err)
		}
	}
	press := func(keys string) {
		t.Helper()
		if err := webtest.Press(ctx, keys); err != nil {
			t.Fatalf("press %q: %v", keys, err)
		}
	}

	// A chat message: Tab to the message box, type, Enter.
	tabTo("#chat-text", false)
	if err := webtest.Type(ctx, "键盘也能聊天 typed"); err != nil {
		t.Fatal(err)
	}
	press(webtest.KeyEnter)
	a11yPoll(t, ctx, "the typed message in the chat", `Array.from(document.querySelectorAll('#chat-log .chat-body')).some(e => e.textContent === '键盘也能聊天 typed')`)
	a11yPoll(t, ctx, "the message announced politely", `document.getElementById('chat-announce').textContent.includes('键盘也能聊天 typed')`)

	// A vote: back to the tabs, the arrow key to Questions, Tab to its
	// Vote button, Enter.
	tabTo("#tab-chat", true)
	press(webtest.KeyRight)
	a11yPoll(t, ctx, "the Questions tab", `document.activeElement.id === 'tab-questions' && !document.getElementById('chat-pane-questions').hidden`)
	tabTo(".q-vote", false)
	press(webtest.KeyEnter)
	a11yPoll(t, ctx, "the vote counted", `document.querySelector('#chat-questions .q-votes').textContent === '1' && document.querySelector('.q-vote').disabled`)

	// A slide: back to the slide, the right arrow.
	tabTo("#slides-view", true)
	press(webtest.KeyRight)
	a11yPoll(t, ctx, "slide 2", `document.getElementById('slides').dataset.rendered === '2' && document.getElementById('slides-status').textContent === 'Page 2 of 4'`)

	// A seek: back to the player, an arrow key.
	tabTo("#player", true)
	before, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('video').currentTime`))
	if err != nil {
		t.Fatal(err)
	}
	// The page opens a live talk where hls.js starts (near its live edge,
	// or at its start): seek towards the side that has room.
	end, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(v => v.seekable.end(v.seekable.length - 1))(document.getElementById('video'))`))
	if err != nil {
		t.Fatal(err)
	}
	key := webtest.KeyLeft
	if before < end/2 {
		key = webtest.KeyRight
	}
	press(key)
	press(key)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Math.abs(document.getElementById('video').currentTime - `+ftoa(before)+`) >= 4`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(v => JSON.stringify({t: v.currentTime, seekable: [v.seekable.start(0), v.seekable.end(0)], focused: document.activeElement.id}))(document.getElementById('video'))`))
		t.Fatalf("two presses of %q from %.1f s (seekable to %.1f s) did not seek: %v; %s", key, before, end, err, state)
	}

	// Theater mode: the 't' key anywhere but a text box; the chat goes under
	// the video, which takes the width.
	press("t")
	a11yPoll(t, ctx, "theater mode", `document.getElementById('main').classList.contains('theater') && document.getElementById('theater').getAttribute('aria-pressed') === 'true'`)
	boxes, err := webtest.Boxes(ctx, "#video", "#chat")
	if err != nil {
		t.Fatal(err)
	}
	if v, c := boxes["#video"], boxes["#chat"]; c.Top < v.Bottom-1 || v.Width < float64(vp.Width)*0.6 {
		t.Errorf("theater mode: video %v, chat %v; want the chat under a wide video", v, c)
	}
	webtest.Screenshot(t, ctx, "keyboard-theater")
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }
