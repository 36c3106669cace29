package web

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/salon/salon/web/webtest"
)

// replayNavState is what a failed wait prints of the page.
const replayNavState = `JSON.stringify({
	t: document.getElementById('video').currentTime, d: document.getElementById('video').duration,
	ready: document.getElementById('video').readyState,
	nav: Object.assign({}, document.getElementById('replay-nav').dataset),
	slides: Object.assign({}, document.getElementById('slides').dataset),
	marks: document.getElementById('marks').children.length,
	status: document.getElementById('share-status').textContent})`

// TestReplayNav_DeepLinksInBrowser opens a replay in Chromium by its deep
// links: ?t= in its three spellings lands within 1 s of the time asked,
// ?slide=2 at the moment slide 2 was first shown with the slides panel on
// it; bad values open the replay as without them. The slide changes and
// the answered question show as marks and in lists that the keyboard
// reaches, and the share button hands out a link at the current time.
func TestReplayNav_DeepLinksInBrowser(t *testing.T) {
	ctx := webtest.Browser(t)
	e := newReplayEnv(t)
	base, _ := e.server(t, 0, nil)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](replayNavState))
			t.Fatalf("waiting for %s: %v; page %s", what, err, state)
		}
	}
	open := func(query string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/talks/recorded"+query)); err != nil {
			t.Fatal(err)
		}
		poll("the replay's navigation", `document.getElementById('replay-nav').dataset.ready === 'true' && document.getElementById('video').readyState >= 1`)
	}
	// near: the video sits within 1 s of want, with the frames there loaded.
	near := func(want float64) string {
		w := strconv.FormatFloat(want, 'f', 3, 64)
		return `(function(){var v=document.getElementById('video'); return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - ` + w + `) < 1})()`
	}

	for _, c := range []struct {
		query string
		at    float64
	}{
		{"?t=9", 9},
		{"?t=0m11s", 11},
		{"?t=0h0m7s", 7},
		{"?t=12m30s&lang=zh-CN", 0}, // past the end: ignored
	} {
		open(c.query)
		if c.at == 0 {
			poll("the link past the end ignored", `document.getElementById('replay-nav').dataset.deeplink === 'ignored'`)
			continue
		}
		poll("the replay at "+c.query, near(c.at))
	}

	open("?slide=2")
	poll("slide 2's first moment (5 s) and the panel on slide 2", near(5)+` && document.getElementById('slides').dataset.page === '2' && document.getElementById('slides').dataset.rendered === '2'`)
	open("?slide=3")
	poll("slide 3's first moment (11 s)", near(11)+` && document.getElementById('slides').dataset.page === '3'`)

	// Bad values: the page opens, nothing of them in the page.
	for _, q := range []string{"?t=%3Cscript%3Ealert(1)%3C/script%3E", "?slide=99", "?t=-5&slide=abc"} {
		open(q)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.documentElement.outerHTML.includes('<script>alert') &&
			document.getElementById('replay-nav').dataset.start === undefined`))
		if err != nil || !ok {
			t.Errorf("%s: the page shows the bad value (%v)", q, err)
		}
		poll("the replay as without "+q, `document.getElementById('video').currentTime < 1`)
	}

	// Marks and lists.
	open("")
	poll("three slide marks and one answered question", `document.querySelectorAll('#marks .mark-slide').length === 3 &&
		document.querySelectorAll('#marks .mark-question.is-answered').length === 1 &&
		document.querySelectorAll('#marks .mark-slide')[1].title === 'Slide 2' &&
		document.querySelectorAll('#chapter-list button').length === 3 && document.querySelectorAll('#asked-list button').length === 1 &&
		document.querySelector('track[kind="chapters"]').getAttribute('src') === '/talks/recorded/chapters.vtt'`)
	// The keyboard: open the chapters, go to "Slide 3", press Enter.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#chapters summary")), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	poll("the chapters open", `document.getElementById('chapters').open`)
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#chapter-list li:nth-child(3) button")), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	poll("the replay at slide 3 from the keyboard", near(11)+` && document.querySelector('#chapter-list li:nth-child(3) button').getAttribute('aria-current') === 'true'`)

	// Share: a link at the current time, said in the live region.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#share"))); err != nil {
		t.Fatal(err)
	}
	poll("the link announced", `/\/talks\/recorded\?t=1[01]s$/.test(document.getElementById('share-status').textContent) &&
		document.getElementById('share-status').getAttribute('role') === 'status'`)
	shared, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('replay-nav').dataset.shared`))
	if err != nil || !strings.HasPrefix(shared, base+"/talks/recorded?t=1") {
		t.Fatalf("shared link %q (%v)", shared, err)
	}
	open(strings.TrimPrefix(shared, base+"/talks/recorded"))
	poll("the shared link opens at 11 s", near(11))
}
