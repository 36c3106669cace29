package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/salon/salon/web/webtest"
)

// TestConsole_Browser drives the organiser console in Chromium with a real
// ffmpeg publisher: log in, see the stage's health update by itself, add a
// talk with the form, start and stop a talk with the buttons, pull the
// publisher and see the stage flagged. The admin token must appear in no
// URL the browser requested and in no log line.
//
// With SALON_SCREENSHOTS=DIR it also saves the console at 1366×768, 820×1180
// and 390×844 there (for looking at, never committed).
func TestConsole_Browser(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := webtest.Browser(t)
	a, logw := testAppLog(t, func(c *Config) { c.Timezone = "Asia/Shanghai" })
	zone, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now()
	mk := func(id, title, speakers, stage string, from, to time.Duration) {
		t.Helper()
		body := fmt.Sprintf(`{"id":%q,"title":%q,"speakers":[%s],"stage":%q,"starts_at":%q,"ends_at":%q}`, id, title, speakers, stage,
			now.Add(from).UTC().Format(time.RFC3339), now.Add(to).UTC().Format(time.RFC3339))
		if code, m := api(t, a, "POST", "/api/talks", body); code != 201 {
			t.Fatalf("create %s: %d %v", id, code, m)
		}
	}
	mk("keynote", "开幕：社区的一年", `{"name":"王小明"},{"name":"李雷"}`, "main", -10*time.Minute, 20*time.Minute)
	mk("rust", "用 Rust 写一个直播服务器", `{"name":"韩梅梅"}`, "main", 25*time.Minute, 55*time.Minute)
	mk("side-1", "Lightning talks", `{"name":"Ada"}`, "side", 5*time.Minute, 35*time.Minute)

	pub := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtmpOut(a.rtmpURL("main", testKey)))...)

	// Every URL the browser asks for, to look for the token later.
	var urlsMu sync.Mutex
	var urls []string
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			urlsMu.Lock()
			urls = append(urls, ev.Request.URL+ev.Request.URLFragment)
			urlsMu.Unlock()
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	poll := func(what, expr string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
			if err == nil {
				return
			}
			// A form post navigates ("Inspected target navigated", "Cannot
			// find context"): poll the new page.
			if time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('admin-error')||{}).textContent + ' / ' + document.body.innerText.slice(0, 1500)`))
			t.Fatalf("waiting for %s: %v; page: %s", what, err, state)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s
	}

	// The login form, then the day.
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/admin"))); err != nil {
		t.Fatal(err)
	}
	poll("the login form", `!!document.querySelector('form.login-form input[name=token]')`, 20*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#token", "not-the-admin-token"),
		chromedp.Click("form.login-form button[type=submit]"),
	); err != nil {
		t.Fatal(err)
	}
	poll("the refusal", `!!document.querySelector('.notice-error') && /not the admin token/.test(document.querySelector('.notice-error').textContent)`, 20*time.Second)
	if dir := webtest.ScreenshotDir(t); dir != "" {
		screenshot(t, ctx, filepath.Join(dir, "console-login-390.png"), 390, 844)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#token", a.adminToken),
		chromedp.Click("form.login-form button[type=submit]"),
	); err != nil {
		t.Fatal(err)
	}
	poll("the day view", `!!document.querySelector('#stage-main') && !!document.querySelector('#stage-side')`, 20*time.Second)
	if got := eval(`document.querySelector('meta[name=csrf-token]').content.length > 20 ? 'ok' : 'none'`); got != "ok" {
		t.Fatal("the console page has no CSRF token")
	}

	// Health arrives and keeps changing by itself.
	poll("the publisher on main", `document.querySelector('#stage-main .health-list dd.ok') !== null &&
		/H264 320×240/.test(document.querySelector('#stage-main').innerText)`, 60*time.Second)
	first := eval(`document.querySelector('#stage-main .spark polyline.spark-line') ? document.querySelector('#stage-main .spark polyline.spark-line').getAttribute('points') : ''`)
	poll("the bitrate chart to move", `(function(){var l=document.querySelector('#stage-main .spark polyline.spark-line');
		return l && l.getAttribute('points') !== `+jsString(first)+`})()`, 20*time.Second)
	if txt := eval(`document.querySelector('#stage-main .stage-now').innerText`); !strings.Contains(txt, "开幕：社区的一年") {
		t.Fatalf("the next talk is not shown with its Chinese title: %q", txt)
	}

	// A talk added by hand, times typed in the event's zone.
	day := now.In(zone).Add(2 * time.Hour)
	if err := chromedp.Do(ctx,
		chromedp.Click("#add-talk"),
		chromedp.WaitVisible("#talk-dialog"),
		chromedp.SetValue("#tf-title", "闭幕与合影"),
		chromedp.SetValue("#tf-speakers", "王小明、Ada Lovelace"),
		chromedp.SetValue("#tf-stage", "side"),
		chromedp.SetValue("#tf-day", day.Format(time.DateOnly)),
		chromedp.SetValue("#tf-start", "21:30"),
		chromedp.SetValue("#tf-end", "22:00"),
		chromedp.Click("#tf-save"),
	); err != nil {
		t.Fatal(err)
	}
	poll("the new talk in the list", `document.getElementById('talk-dialog').open === false &&
		[...document.querySelectorAll('.admin-talk-title')].some(function(a){return a.textContent === '闭幕与合影'})`, 20*time.Second)
	var added map[string]any
	for _, tk := range listTalks(t, a) {
		if tk["title"] == "闭幕与合影" {
			added = tk
		}
	}
	want := time.Date(day.Year(), day.Month(), day.Day(), 21, 30, 0, 0, zone).UTC().Format(time.RFC3339)
	if added == nil || added["starts_at"] != want || added["stage"] != "side" {
		t.Fatalf("the talk added in the form: %v, want it on side starting %s", added, want)
	}
	if sp := fmt.Sprint(added["speakers"]); !strings.Contains(sp, "王小明") || !strings.Contains(sp, "Ada Lovelace") {
		t.Fatalf("speakers of the added talk: %s", sp)
	}

	// Edit it: the form comes back filled in, in the event's zone.
	eval(`(function(){[...[...document.querySelectorAll('.admin-talk')].find(function(li){return li.textContent.indexOf('闭幕与合影') >= 0}).querySelectorAll('button')].find(function(b){return b.textContent === 'Edit'}).click(); return ''})()`)
	poll("the edit form", `document.getElementById('talk-dialog').open && document.getElementById('tf-title').value === '闭幕与合影' &&
		document.getElementById('tf-start').value === '21:30' && document.getElementById('tf-stage').value === 'side'`, 20*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#tf-title", "闭幕、合影与茶歇"),
		chromedp.SetValue("#tf-end", "22:15"),
		chromedp.Click("#tf-save"),
	); err != nil {
		t.Fatal(err)
	}
	poll("the edited talk in the list", `document.getElementById('talk-dialog').open === false &&
		[...document.querySelectorAll('.admin-talk-title')].some(function(a){return a.textContent === '闭幕、合影与茶歇'})`, 20*time.Second)
	code, edited := api(t, a, "GET", "/api/talks/"+fmt.Sprint(added["id"]), "")
	wantEnd := time.Date(day.Year(), day.Month(), day.Day(), 22, 15, 0, 0, zone).UTC().Format(time.RFC3339)
	if code != 200 || edited["title"] != "闭幕、合影与茶歇" || edited["ends_at"] != wantEnd || edited["starts_at"] != want {
		t.Fatalf("the edited talk: %d %v, want the new title and end %s", code, edited, wantEnd)
	}

	// Start with the button: the talk is on stage with its clock.
	if err := chromedp.Do(ctx, chromedp.Click("#stage-main .button-go")); err != nil {
		t.Fatal(err)
	}
	poll("the talk on stage", `!document.querySelector('#stage-main .now-box').hidden &&
		document.querySelector('#stage-main .now-title').textContent === '开幕：社区的一年'`, 20*time.Second)
	if code, m := api(t, a, "GET", "/api/talks/keynote", ""); code != 200 || m["live"] != true {
		t.Fatalf("after Start the talk is not live: %d %v", code, m)
	}
	poll("the elapsed clock to run", `/^0:0[1-9]$|^0:[1-5][0-9]$/.test(document.querySelector('#stage-main .clock-value').textContent)`, 20*time.Second)

	if dir := webtest.ScreenshotDir(t); dir != "" {
		screenshot(t, ctx, filepath.Join(dir, "console-1366.png"), 1366, 768)
		screenshot(t, ctx, filepath.Join(dir, "console-390.png"), 390, 844)
		screenshot(t, ctx, filepath.Join(dir, "console-820.png"), 820, 1180)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
			t.Fatal(err)
		}
	}

	// Pull the publisher: the stage is flagged, loud.
	pulled := time.Now()
	pub.kill()
	for a.reg.Live("main") {
		if time.Since(pulled) > 30*time.Second {
			t.Fatal("salon still sees a publisher on main 30 s after ffmpeg was killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	noticed := time.Since(pulled)
	poll("the stage flagged", `document.querySelector('#stage-main').classList.contains('is-down') &&
		!!document.querySelector('.alert-down[data-stage="main"]') && !document.querySelector('#stage-main .stage-banner').hidden`, 30*time.Second)
	shown := time.Since(pulled)
	t.Logf("publisher pulled: salon noticed after %s, the console showed it after %s (issue 9: within 2 s)",
		noticed.Round(time.Millisecond), shown.Round(time.Millisecond))
	if dir := webtest.ScreenshotDir(t); dir != "" {
		screenshot(t, ctx, filepath.Join(dir, "console-down-1366.png"), 1366, 768)
	}

	// Stop with the button.
	if err := chromedp.Do(ctx, chromedp.Click("#stage-main .button-stop")); err != nil {
		t.Fatal(err)
	}
	poll("no talk on stage", `document.querySelector('#stage-main .now-box').hidden &&
		!document.querySelector('#stage-main .now-idle').hidden`, 20*time.Second)
	if code, m := api(t, a, "GET", "/api/talks/keynote", ""); code != 200 || m["live"] != false || m["ended"] != true {
		t.Fatalf("after Stop the talk is still live: %d %v", code, m)
	}
	if e := eval(`document.getElementById('admin-error').hidden ? '' : document.getElementById('admin-error').textContent`); e != "" {
		t.Fatalf("the console shows an error: %s", e)
	}

	// Next talk starts the following one.
	if err := chromedp.Do(ctx, chromedp.Click("#stage-main .stage-buttons .button:not(.button-go):not(.button-stop)")); err != nil {
		t.Fatal(err)
	}
	poll("the next talk on stage", `!document.querySelector('#stage-main .now-box').hidden &&
		document.querySelector('#stage-main .now-title').textContent === '用 Rust 写一个直播服务器'`, 20*time.Second)
	if code, m := api(t, a, "GET", "/api/talks/rust", ""); code != 200 || m["live"] != true {
		t.Fatalf("after Next talk the next talk is not live: %d %v", code, m)
	}

	// Auto on the side stage, as the programme says it.
	if err := chromedp.Do(ctx, chromedp.Click("#auto-side")); err != nil {
		t.Fatal(err)
	}
	poll("auto on", `document.getElementById('auto-side').checked && !document.getElementById('auto-side').disabled &&
		/Auto on/.test(document.getElementById('admin-note').textContent)`, 20*time.Second)
	if _, b, _ := get(t, a.httpURL("/api/programme")); !strings.Contains(string(b), `"stage":"side","auto":true`) {
		t.Fatalf("after the Auto switch, GET /api/programme: %s", b)
	}
	if e := eval(`document.getElementById('admin-error').hidden ? '' : document.getElementById('admin-error').textContent`); e != "" {
		t.Fatalf("the console shows an error: %s", e)
	}

	// Clock colours: amber in the last 5 minutes, red once over time (a talk
	// given a 3 s slot).
	short := time.Now().Add(time.Minute)
	if code, m := api(t, a, "POST", "/api/talks", fmt.Sprintf(`{"id":"short","title":"三秒钟","stage":"third","starts_at":%q,"ends_at":%q}`,
		short.UTC().Format(time.RFC3339), short.Add(3*time.Second).UTC().Format(time.RFC3339))); code != 201 {
		t.Fatalf("create short: %d %v", code, m)
	}
	poll("the third stage", `!!document.querySelector('#stage-third .button-go') && !document.querySelector('#stage-third .button-go').disabled`, 20*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click("#stage-third .button-go")); err != nil {
		t.Fatal(err)
	}
	poll("amber", `document.querySelector('#stage-third').classList.contains('is-amber')`, 20*time.Second)
	poll("red, over time", `document.querySelector('#stage-third').classList.contains('is-over') &&
		/^\+0:0\d$/.test(document.querySelectorAll('#stage-third .clock-value')[1].textContent)`, 20*time.Second)

	// The questions view takes the session: answer buttons without a token.
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/live/main/questions"))); err != nil {
		t.Fatal(err)
	}
	poll("the questions view for the organiser", `document.getElementById('q-hint') !== null &&
		document.getElementById('q-hint').hidden && !!document.querySelector('meta[name="csrf-token"]')`, 20*time.Second)

	// The token went into a form body only.
	urlsMu.Lock()
	defer urlsMu.Unlock()
	if len(urls) < 5 {
		t.Fatalf("only %d requests seen: the URL check would prove nothing", len(urls))
	}
	for _, u := range urls {
		if strings.Contains(u, a.adminToken) {
			t.Errorf("the admin token is in a URL the browser requested: %s", u)
		}
	}
	if strings.Contains(logw.String(), a.adminToken) {
		t.Error("the admin token is in salon's log")
	}
}

func listTalks(t *testing.T, a *app) []map[string]any {
	t.Helper()
	_, b, _ := get(t, a.httpURL("/api/talks"))
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET /api/talks: %v: %s", err, b)
	}
	return out
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}

// screenshot saves the whole page at width×height as PNG.
func screenshot(t *testing.T, ctx context.Context, path string, width, height int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a snapshot or two at the new size
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}
