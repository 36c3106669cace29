package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/salon/salon/archive/slidetest"
	"github.com/salon/salon/web/webtest"
)

// TestSlides_UploadAndViewInBrowser: the speaker opens their link in
// Chromium, picks a PDF through the page's file chooser, watches the progress
// reach 100 %, and the talk's page then renders it with pdf.js beside the
// player and turns its pages. The archive is a real MinIO.
func TestSlides_UploadAndViewInBrowser(t *testing.T) {
	ctx := webtest.Browser(t)
	mb := newMinioBucket(t)
	a := testApp(t, mb.config)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"decks","title":"Decks in the browser","speakers":[{"name":"Ada"}],"stage":"main","starts_at":"2026-11-25T10:00:00Z"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	_, link := speakerLink(t, a, "decks")
	// 3 pages, padded to 3 MB so that the upload reports progress on the way.
	deck := filepath.Join(t.TempDir(), "Unsere Folien.pdf")
	if err := os.WriteFile(deck, slidetest.PaddedPDF(3, "salon", 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
				up: document.getElementById('upload-status') && document.getElementById('upload-status').textContent,
				progress: document.getElementById('progress') && document.getElementById('progress').value,
				slides: document.getElementById('slides') && Object.assign({}, document.getElementById('slides').dataset),
				note: document.getElementById('slides-note') && document.getElementById('slides-note').textContent})`))
			t.Fatalf("waiting for %s: %v; page state %s", what, err, state)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open the speaker link: %v", err)
	}
	poll("the speaker page", `document.getElementById('talk-title').textContent === 'Decks in the browser'`)
	// Record every progress value the page shows.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
		window.__progress = [];
		new MutationObserver(function () { window.__progress.push(document.getElementById('progress').value); })
			.observe(document.getElementById('progress-text'), { childList: true, characterData: true, subtree: true });
		return true })()`)); err != nil {
		t.Fatal(err)
	}

	// The file chooser: intercepted, as a person's pick would be answered.
	if _, err := chromedp.Call(ctx, page.SetInterceptFileChooserDialog, page.SetInterceptFileChooserDialogParams{Enabled: true}); err != nil {
		t.Fatalf("intercept the file chooser: %v", err)
	}
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	opened := make(chan page.EventFileChooserOpened, 1)
	go func() {
		for ev, err := range chromedp.Events(evCtx, page.FileChooserOpened) {
			if err != nil {
				return
			}
			opened <- ev
			return
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#choose"))); err != nil {
		t.Fatalf("click Choose a file: %v", err)
	}
	var ev page.EventFileChooserOpened
	select {
	case ev = <-opened:
	case <-time.After(20 * time.Second):
		t.Fatal("clicking Choose a file opened no file chooser")
	}
	if _, err := chromedp.Call(ctx, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{deck}, BackendNodeID: ev.BackendNodeID}); err != nil {
		t.Fatalf("pick the file: %v", err)
	}
	poll("the upload to finish at 100 %", `document.getElementById('uploader').dataset.state === 'done' &&
		document.getElementById('progress').value === 100 && document.getElementById('progress-text').textContent === '100 %' &&
		document.getElementById('upload-status').textContent.indexOf('Uploaded Unsere Folien.pdf') === 0`)
	seen, _ := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`window.__progress`))
	t.Logf("progress values shown: %v", seen)
	poll("the file in the list", `!!document.querySelector('#files li[data-name="Unsere Folien.pdf"] a')`)

	// The talk's page renders it.
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/talks/decks"))); err != nil {
		t.Fatal(err)
	}
	poll("page 1 rendered", `document.getElementById('slides').dataset.rendered === '1' && document.getElementById('slides').dataset.pages === '3'`)
	// The page's blue box is on the canvas: pdf.js drew the PDF, not a blank.
	blue := `(function () {
		var c = document.getElementById('slides-canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;
		for (var i = 0; i < d.length; i += 4) if (d[i+2] > 150 && d[i] < 80 && d[i+1] < 120) n++;
		return n / (d.length / 4) })()`
	share, err := chromedp.Run(ctx, chromedp.Evaluate[float64](blue))
	if err != nil || share < 0.2 {
		t.Fatalf("the canvas is %.0f %% blue (%v); the slide's box covers about half of it", share*100, err)
	}
	// Beside the player when the column is wide enough, else below it
	// (css/watch.css); never over it.
	poll("the download link and the panel beside or below the player", `(function () {
		var a = document.querySelector('#slides-files a');
		var p = document.getElementById('player').getBoundingClientRect(), s = document.getElementById('slides').getBoundingClientRect();
		return !!a && a.textContent === 'Unsere Folien.pdf' && a.hasAttribute('download') &&
			decodeURIComponent(a.getAttribute('href')) === '/archive/talks/decks/slides/Unsere Folien.pdf' && (s.left >= p.right - 1 || s.top >= p.bottom - 1) })()`)

	// Navigation: the button, the page box, and the API for later sync.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#slides-next"))); err != nil {
		t.Fatal(err)
	}
	poll("page 2 after next", `document.getElementById('slides').dataset.rendered === '2' && document.getElementById('slides-page').value === '2'`)
	// The panel's API, as slides-follow.js gets it: the 'slides' topic of
	// the page's bus (the same module instance the page's scripts import).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`import('/static/js/lib/bus.js').then(function (b) { b.subscribe('slides', function (s) { window.__slides = s }) }), true`)); err != nil {
		t.Fatal(err)
	}
	poll("the slides API on the bus", `!!window.__slides`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__turns = []; __slides.onPageChange(function (p, n, src) { window.__turns.push(p + '/' + n + ' ' + src) }); __slides.show(9, 'speaker')`)); err != nil {
		t.Fatal(err)
	}
	poll("page 3 after show(9)", `document.getElementById('slides').dataset.rendered === '3' && __slides.page() === 3 && document.getElementById('slides-next').disabled`)
	turns, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__turns`))
	if strings.Join(turns, ",") != "3/3 speaker" {
		t.Fatalf("page change listeners saw %v", turns)
	}
}
