package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// Steps of the organiser's day in the console, shared by the console's
// browser tests: each drives Chromium (ctx) against a running salon and
// checks what the organiser and the room would see.

// consolePoll waits (up to a minute) until expr is true in ctx's page. A
// click that navigates makes a poll fail ("Cannot find context with
// specified id"): it polls the new page then.
func consolePoll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + ' ' + document.body.innerText.slice(0, 800)`))
		t.Fatalf("waiting for %s: %v; page: %s", what, err, page)
	}
}

// consolePress clicks the element sel through the DOM (its click()), for a
// button that layout may move as it is pressed: a mouse click at the
// coordinates chromedp measured lands beside the button when a banner
// appears between the measure and the click (seen on a loaded machine).
func consolePress(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const b = document.querySelector(`+jsString(sel)+`);
		if (!b || b.disabled) return false; b.click(); return true; })()`))
	if err != nil || !ok {
		t.Fatalf("%s: no enabled %s to press (%v)", what, sel, err)
	}
}

// consoleRun runs actions in ctx's tab or fails the test naming what.
func consoleRun(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// consoleLogIn logs in on /admin/login with the admin token: the session
// cookie carries the console from there on.
func consoleLogIn(t *testing.T, ctx context.Context, a *app) {
	t.Helper()
	consoleRun(t, ctx, "log in",
		chromedp.Navigate(a.httpURL("/admin/login")),
		chromedp.SendKeys(chromedp.CSS("#token"), a.adminToken),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("main.admin")),
	)
}

// consoleQuestionOnScreen: a remote viewer asks question in stage's chat;
// the organiser puts it on the room's screen from the console's chat page
// (ctx is left there); the viewer gets the onscreen frame, and room — a tab
// already showing /live/{stage}/room — shows the question.
func consoleQuestionOnScreen(t *testing.T, ctx, room context.Context, a *app, stage, question string) {
	t.Helper()
	viewer, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/"+stage, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viewer.Close() })
	wsRead(t, viewer, "welcome")
	viewer.WriteJSON(map[string]string{"type": "question", "text": question})
	q := wsRead(t, viewer, "chat")
	// The viewer keeps reading (and so answering the hub's pings) while the
	// browser works; the frames it sees wait here.
	onscreen := make(chan map[string]any, 16)
	viewer.SetReadDeadline(time.Time{}) // wsRead's deadline; the test's timeout bounds the wait
	go func() {
		for {
			var f map[string]any
			if err := viewer.ReadJSON(&f); err != nil {
				close(onscreen)
				return
			}
			if f["type"] == "onscreen" {
				onscreen <- f
			}
		}
	}()

	consoleRun(t, ctx, "open the chat console", chromedp.Navigate(a.httpURL("/admin/stages/"+stage+"/chat")))
	consolePoll(t, ctx, "the question in the console", `Array.from(document.querySelectorAll('#questions .cx-text')).some(e => e.textContent === `+jsString(question)+`)`)
	consoleRun(t, ctx, "put it on screen", chromedp.Click(chromedp.CSS(`#questions [data-onscreen]`)))
	select {
	case f, ok := <-onscreen:
		if !ok || f["id"] != q["id"] {
			t.Fatalf("onscreen frame %v (connection open: %v), want id %v", f, ok, q["id"])
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no onscreen frame reached the viewer")
	}
	consolePoll(t, room, "the question on the room screen", `!document.getElementById('room-question').hidden &&
		document.getElementById('room-q-text').textContent === `+jsString(question))
	consolePoll(t, ctx, "the console marks it on screen", `!document.getElementById('onscreen-box').hidden &&
		document.querySelector('#questions .cx-q.is-onscreen') !== null`)
}

// consoleTrim moves the in handle of talk id's replay 2 s later on the
// console's talk page (ctx is left there) and saves: the talk's playlist
// must change while no stages/ object is rewritten. The talk has ended and
// its runs are closed in the bucket.
func consoleTrim(t *testing.T, ctx context.Context, a *app, id string) {
	t.Helper()
	before := snapshotBucket(t, a)
	playlistBefore := getAdmin(t, a, "/archive/talks/"+id+"/index.m3u8")

	consoleRun(t, ctx, "open the talk console", chromedp.Navigate(a.httpURL("/admin/talks/"+id)))
	consolePoll(t, ctx, "the trim handles ready", `document.getElementById('trim-in-at').textContent.includes(':')`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const el = document.getElementById('trim-in');
		el.value = String(Number(el.value) + 2);
		el.dispatchEvent(new Event('input'));
		return true;
	})()`)); err != nil {
		t.Fatalf("move the in handle 2 s later: %v", err)
	}
	consolePoll(t, ctx, "save enabled", `!document.getElementById('trim-save').disabled`)
	consoleRun(t, ctx, "save the trim", chromedp.Click(chromedp.CSS(`#trim-save`)))
	consolePoll(t, ctx, "the trim saved", `document.getElementById('cx-note').textContent.startsWith('Saved')`)

	playlistAfter := getAdmin(t, a, "/archive/talks/"+id+"/index.m3u8")
	if playlistAfter == playlistBefore {
		t.Fatal("the trim did not change the replay's playlist")
	}
	after := snapshotBucket(t, a)
	var changed []string
	for k, v := range after {
		if before[k] != v {
			changed = append(changed, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	for _, k := range changed {
		if strings.HasPrefix(k, "stages/") {
			t.Fatalf("the trim rewrote %s (changed: %v)", k, changed)
		}
	}
	if !slices.Contains(changed, "talks/"+id+"/index.m3u8") {
		t.Fatalf("changed %v, want the talk's playlist among them", changed)
	}
}
