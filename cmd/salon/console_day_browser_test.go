package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salon/salon/schedule"
	"github.com/salon/salon/web/webtest"
)

// TestConsole_Day walks the organiser's day in Chromium, as issue 9 names
// it, against a real salon with an ffmpeg publisher: log in; import a
// pretalx-style schedule.json with two rooms and Chinese titles through the
// console's import page (a bad file first: its error is shown as the API
// words it), mapping the rooms to stages; start a talk; see its health
// update; pull the publisher and see the stage flagged (the delay is
// logged: issue 9 wants it within 2 s); press Next talk; trim the ended
// talk's replay with the handles (its playlist changes, no stages/ object
// is rewritten); put a viewer's question on the room screen.
//
// With SALON_SCREENSHOTS=DIR it saves the import page at 390×844 and
// 1366×768 and, as JPEGs small enough for the README (docs/img/), the day
// view and the import plan at 1366×768.
func TestConsole_Day(t *testing.T) {
	needTools(t, "ffmpeg")
	browser := webtest.Browser(t)
	a := testApp(t, func(c *Config) { c.Timezone = "Asia/Shanghai" })
	pub := startProc(t, "ffmpeg", ffmpegArgs("300", srcVideo, srcAudio, encH264, encAAC, rtmpOut(a.rtmpURL("main", testKey)))...)

	// The day, as pretalx exports it: two rooms, Chinese titles only (the
	// ids come from the slugs), times around now.
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now().In(shanghai).Truncate(time.Minute)
	const (
		guidOpen  = "7a1c6b0e-2d52-5d1f-8a55-1c1b4f3a0001"
		guidNext  = "7a1c6b0e-2d52-5d1f-8a55-1c1b4f3a0002"
		guidShop  = "7a1c6b0e-2d52-5d1f-8a55-1c1b4f3a0003"
		titleOpen = "开场：社区的一年"
		titleNext = "直播切片的原理"
		titleShop = "动手：推流与回放"
	)
	ev := func(guid, slug, title, room string, from, length time.Duration, who ...string) schedule.Event {
		return schedule.Event{GUID: guid, Slug: slug, Title: title, Room: room, Persons: who, Language: "zh", Type: "Talk",
			Start: now.Add(from), Duration: length}
	}
	day := &schedule.Schedule{Version: "v1", Conference: schedule.Conference{
		Acronym: "salon-day", Title: "开源社区沙龙", TimeZoneName: "Asia/Shanghai", TimeZone: shanghai, Rooms: []string{"主会场", "分会场"},
	}, Events: []schedule.Event{
		ev(guidOpen, "salon-day-1-", titleOpen, "主会场", -5*time.Minute, 20*time.Minute, "王小明"),
		ev(guidNext, "salon-day-2-", titleNext, "主会场", 20*time.Minute, 25*time.Minute, "韩梅梅", "Ada"),
		ev(guidShop, "salon-day-3-", titleShop, "分会场", 0, 30*time.Minute, "李雷"),
	}}
	var good bytes.Buffer
	if err := schedule.WriteJSON(&good, day); err != nil {
		t.Fatal(err)
	}
	overlap := *day
	overlap.Events = append([]schedule.Event{}, day.Events...)
	overlap.Events[1].Start = now.Add(10 * time.Minute) // inside the first talk, same room
	var bad bytes.Buffer
	if err := schedule.WriteJSON(&bad, &overlap); err != nil {
		t.Fatal(err)
	}
	// The next version of the file: a title changed, a talk gone.
	changed := *day
	changed.Events = []schedule.Event{day.Events[0], day.Events[2]}
	changed.Events[1].Title = "动手：推流、回放与剪辑"
	var next bytes.Buffer
	if err := schedule.WriteJSON(&next, &changed); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nextPath := filepath.Join(dir, "v2", "schedule.json")
	os.MkdirAll(filepath.Dir(nextPath), 0o755)
	if err := os.WriteFile(nextPath, next.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	goodPath, badPath := filepath.Join(dir, "schedule.json"), filepath.Join(dir, "overlap", "schedule.json")
	os.MkdirAll(filepath.Dir(badPath), 0o755)
	if err := os.WriteFile(goodPath, good.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badPath, bad.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(browser, 5*time.Minute)
	defer cancel()
	consoleLogIn(t, ctx, a)

	// Import: the page is linked from the day view.
	consolePress(t, ctx, "open the import page", "#nav-schedule")
	consolePoll(t, ctx, "the import page ready", `document.getElementById('main').dataset.ready === '1' && !!document.getElementById('sched-file')`)
	consoleRun(t, ctx, "choose the overlapping file", chromedp.SetUploadFiles(chromedp.CSS("#sched-file"), []string{badPath}))
	consolePoll(t, ctx, "the overlap refused", `!document.getElementById('cx-error').hidden &&
		/in the same room/.test(document.getElementById('cx-error').textContent) && document.getElementById('sched-plan').hidden`)
	if n := len(listTalks(t, a)); n != 0 {
		t.Fatalf("after a refused file salon has %d talks", n)
	}
	consoleRun(t, ctx, "choose the schedule", chromedp.SetUploadFiles(chromedp.CSS("#sched-file"), []string{goodPath}))
	consolePoll(t, ctx, "the plan with both rooms", `!document.getElementById('sched-plan').hidden && document.getElementById('cx-error').hidden &&
		document.querySelectorAll('.cx-room').length === 2 && document.querySelector('[data-list=created]') !== null &&
		document.querySelectorAll('[data-list=created] li').length === 3`)
	if txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('sched-plan').innerText`)); !strings.Contains(txt, titleOpen) ||
		!strings.Contains(txt, "主会场") || !strings.Contains(txt, "分会场") {
		t.Fatalf("the plan does not show the Chinese titles and rooms: %q", txt)
	}
	// Map the rooms: 主会场 to main (where OBS publishes), 分会场 to workshop.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		for (const [room, stage] of [['主会场', 'main'], ['分会场', 'workshop']]) {
			const input = [...document.querySelectorAll('.cx-stage')].find((i) => i.dataset.room === room);
			input.value = stage;
			input.dispatchEvent(new Event('input'));
		}
		return true;
	})()`)); err != nil {
		t.Fatalf("map the rooms: %v", err)
	}
	consolePoll(t, ctx, "the plan made with the mapping", `document.getElementById('sched-plan').dataset.mapping === '主会场=main;分会场=workshop' &&
		!document.getElementById('sched-import').disabled`)
	shot(t, ctx, a, "schedule-plan-390x844", 390, 844, "")
	shot(t, ctx, a, "schedule-plan-1366x768", 1366, 768, "")
	if n := len(listTalks(t, a)); n != 0 {
		t.Fatalf("the dry run created %d talks", n)
	}
	consolePress(t, ctx, "import", "#sched-import")
	consolePoll(t, ctx, "the report", `!document.getElementById('sched-report').hidden &&
		document.querySelector('#sched-report-summary [data-kind=created] strong').textContent === '3'`)
	shot(t, ctx, a, "schedule-report-390x844", 390, 844, "")
	byGUID := map[string]map[string]any{}
	for _, tk := range listTalks(t, a) {
		byGUID[fmt.Sprint(tk["guid"])] = tk
	}
	bareID := regexp.MustCompile(`^talk-\d+$`)
	for guid, want := range map[string][2]string{guidOpen: {titleOpen, "main"}, guidNext: {titleNext, "main"}, guidShop: {titleShop, "workshop"}} {
		tk := byGUID[guid]
		if tk == nil || tk["title"] != want[0] || tk["stage"] != want[1] || bareID.MatchString(fmt.Sprint(tk["id"])) {
			t.Fatalf("imported talk %s: %v, want %q on %s with a readable id", guid, tk, want[0], want[1])
		}
	}
	idOpen, idNext := fmt.Sprint(byGUID[guidOpen]["id"]), fmt.Sprint(byGUID[guidNext]["id"])

	// The next version of the file, checked only: the saved mapping comes
	// back, the changed field and the talk gone from the file are named.
	consoleRun(t, ctx, "choose the next version", chromedp.SetUploadFiles(chromedp.CSS("#sched-file"), []string{nextPath}))
	consolePoll(t, ctx, "the plan of the next version", `!document.getElementById('sched-plan').hidden &&
		document.getElementById('sched-plan').dataset.mapping === '主会场=main;分会场=workshop' &&
		/title/.test(document.querySelector('[data-list=updated] li').textContent) &&
		document.querySelector('[data-list=removed] li').textContent.includes(`+jsString(titleNext)+`)`)
	readmeShot(t, ctx, "console-import.jpg")
	shot(t, ctx, a, "schedule-replan-390x844", 390, 844, "")

	// The day view: both stages, with their links.
	consolePress(t, ctx, "back to the day", `nav.cx-crumbs a[href="/admin"]`)
	consolePoll(t, ctx, "the day with both stages and the links", `!!document.querySelector('#stage-main') && !!document.querySelector('#stage-workshop') &&
		!!document.querySelector('#stage-main a[href="/admin/stages/main/chat"]') && !!document.querySelector('#stage-main a[href="/live/main/room"]') &&
		!!document.querySelector('a[href="/admin/sponsors"]') && !!document.querySelector('a[href="/admin/stats"]') && !!document.querySelector('a[href="/admin/schedule"]') &&
		document.querySelector('#stage-main .next-line').textContent.includes(`+jsString(titleOpen)+`)`)

	// Start the first talk; its health arrives and moves by itself.
	waitSegments(t, a, "main", 2, 30*time.Second)
	consolePress(t, ctx, "press Start", "#stage-main .button-go")
	consolePoll(t, ctx, "the talk on stage", `!document.querySelector('#stage-main .now-box').hidden &&
		document.querySelector('#stage-main .now-title').textContent === `+jsString(titleOpen))
	consolePoll(t, ctx, "the publisher's health", `document.querySelector('#stage-main .health-list dd.ok') !== null &&
		/H264 320×240/.test(document.querySelector('#stage-main').innerText)`)
	first, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#stage-main .spark polyline.spark-line') || {getAttribute: () => ''}).getAttribute('points')`))
	consolePoll(t, ctx, "the bitrate chart to move", `(function(){var l=document.querySelector('#stage-main .spark polyline.spark-line');
		return l && l.getAttribute('points') !== `+jsString(first)+`})()`)
	// A few seconds of recording, so the trim has something to cut.
	consolePoll(t, ctx, "six seconds on stage", `/^0:(0[6-9]|[1-5][0-9])$/.test(document.querySelector('#stage-main .clock-value').textContent)`)
	readmeShot(t, ctx, "console-day.jpg")
	shot(t, ctx, a, "day-390x844", 390, 844, "")
	consoleRun(t, ctx, "back to a laptop's size", chromedp.EmulateViewport(1366, 768))

	// Pull the publisher: the stage is flagged, loud.
	pulled := time.Now()
	pub.kill()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#stage-main').classList.contains('is-down') &&
		!!document.querySelector('.alert-down[data-stage="main"]') && !document.querySelector('#stage-main .stage-banner').hidden`,
		chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("the stage is not flagged 30 s after its publisher was killed: %v", err)
	}
	t.Logf("publisher pulled: the console flagged the stage after %s (issue 9: within 2 s)", time.Since(pulled).Round(time.Millisecond))

	// Next talk: the first one ends, the next one is on stage.
	consolePress(t, ctx, "press Next talk", "#stage-main .stage-buttons .button:not(.button-go):not(.button-stop)")
	consolePoll(t, ctx, "the next talk on stage", `!document.querySelector('#stage-main .now-box').hidden &&
		document.querySelector('#stage-main .now-title').textContent === `+jsString(titleNext))
	if code, m := api(t, a, "GET", "/api/talks/"+idOpen, ""); code != 200 || m["ended"] != true {
		t.Fatalf("after Next talk the first talk has not ended: %d %v", code, m)
	}
	if code, m := api(t, a, "GET", "/api/talks/"+idNext, ""); code != 200 || m["live"] != true {
		t.Fatalf("after Next talk the next one is not live: %d %v", code, m)
	}

	// Trim the first talk's replay.
	waitRunsEnded(t, a, "main")
	consoleTrim(t, ctx, a, idOpen)

	// The room screen shows the talk on stage, then the question.
	room, cancelRoom := chromedp.NewContext(ctx)
	defer cancelRoom()
	consoleRun(t, room, "open the room screen", chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(a.httpURL("/live/main/room")))
	consolePoll(t, room, "the talk on the room screen", `document.getElementById('room-title').textContent.includes(`+jsString(titleNext)+`) &&
		document.getElementById('room-question').hidden`)
	consoleQuestionOnScreen(t, ctx, room, a, "main", "切片之后还能改吗？ Can a cut be changed later?")

	// The schedule goes back out with the imported rooms.
	if _, b, _ := get(t, a.httpURL("/schedule.json")); !strings.Contains(string(b), guidOpen) || !strings.Contains(string(b), `"主会场"`) {
		t.Fatalf("schedule.json after the day:\n%s", b)
	}
}

// readmeShot saves the page at 1366×768 as a JPEG (quality 70, the whole
// page) into $SALON_SCREENSHOTS, small enough for the README's docs/img/.
func readmeShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := webtest.ScreenshotDir(t)
	if dir == "" {
		return
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a snapshot at the new size
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(70))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %d KB", name, len(img)>>10)
}
