package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/web/chat"
	"github.com/salon/salon/web/webtest"
)

// TestServer_ChatBoxCountsCharacters reproduces the emoji limit of issue 13
// (finding 18) in Chromium: the chat box's maxlength counted UTF-16 units,
// so typing stopped at 250 emoji while the server takes 500 characters. The
// box now counts characters as the server does: 500 emoji go in, and are
// posted whole.
func TestServer_ChatBoxCountsCharacters(t *testing.T) {
	ctx := webtest.Browser(t)
	live, stages := newFakes()
	rooms := &chat.Rooms{CheckOrigin: func(*http.Request) bool { return true }}
	if err := rooms.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rooms.Close)
	s := &Server{Address: "127.0.0.1:0", Live: live, Stages: stages, Chat: rooms, Metrics: prometheus.NewRegistry()}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	base := "http://" + s.Addr()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/live/main")); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	poll("the chat to connect", `document.getElementById('chat-status').hidden`)

	// Type 600 emoji the way an input method commits text.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#chat-text"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: strings.Repeat("😀", 600)}); err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Array.from(document.getElementById('chat-text').value).length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 500 {
		t.Fatalf("the chat box holds %d emoji after typing 600, want 500 (the server's limit)", n)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('chat-form').requestSubmit(), true`)); err != nil {
		t.Fatal(err)
	}
	poll("the 500 emoji to come back from the server",
		`Array.from(document.querySelector('#chat-log .chat-body') ? document.querySelector('#chat-log .chat-body').textContent : '').length === 500`)
}
