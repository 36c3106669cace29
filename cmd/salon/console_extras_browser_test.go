package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salon/salon/web/webtest"
)

// TestConsole_QuestionOnRoomScreenAndTrim drives the console's chat page and
// talk page in Chromium against a real salon with an ffmpeg publisher: log
// in, put a viewer's question on the room screen and see it there in large
// type; stop the talk and trim its replay with the handles, and check that
// its playlist changed while no stages/ object was rewritten.
//
// With SALON_SCREENSHOTS=DIR it also saves screenshots of the pages at phone,
// laptop and projector sizes (for people to look at; never committed).
func TestConsole_QuestionOnRoomScreenAndTrim(t *testing.T) {
	needTools(t, "ffmpeg")
	browser := webtest.Browser(t)
	a := testApp(t)
	pub := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtmpOut(a.rtmpURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"room","title":"房间里的问题 Questions from the room","speakers":[{"name":"韩梅梅"}],"stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	nextAt := time.Now().Add(time.Hour).UTC().Truncate(time.Minute)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"after","title":"下一场：直播的切片","stage":"main","starts_at":"`+nextAt.Format(time.RFC3339)+`","ends_at":"`+nextAt.Add(30*time.Minute).Format(time.RFC3339)+`"}`); code != 201 {
		t.Fatalf("create the next talk: %d %v", code, m)
	}
	if code, m := api(t, a, "POST", "/api/talks/room/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	uploadSponsor(t, a, "示例科技 Example Tech", testLogoPNG(t))
	uploadSponsor(t, a, "Open Source Circle", []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 60"><rect width="200" height="60" rx="8" fill="#1b5e20"/><text x="100" y="38" font-size="22" text-anchor="middle" fill="#fff" font-family="sans-serif">OSC</text></svg>`))

	const question = "能把切片的原理再讲一遍吗？ Can you explain the cut again?"

	ctx, cancel := context.WithTimeout(browser, 4*time.Minute)
	defer cancel()
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		consoleRun(t, ctx, what, actions...)
	}
	poll := func(ctx context.Context, what, expr string) {
		t.Helper()
		consolePoll(t, ctx, what, expr)
	}

	// Log in once: the session cookie carries the console from here on.
	consoleLogIn(t, ctx, a)

	// The room screen in a second tab, open before the question goes up.
	room, cancelRoom := chromedp.NewContext(ctx)
	defer cancelRoom()
	if err := chromedp.Do(room, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(a.httpURL("/live/main/room"))); err != nil {
		t.Fatal(err)
	}
	poll(room, "the talk and the next one on the room screen", `document.getElementById('room-title').textContent.includes('房间里的问题') &&
		document.getElementById('room-next-title').textContent === '下一场：直播的切片' && !document.getElementById('room-next').hidden &&
		document.getElementById('room-qr').naturalWidth > 0 && document.getElementById('room-question').hidden`)

	consoleQuestionOnScreen(t, ctx, room, a, "main", question)
	fontSize, err := chromedp.Run(room, chromedp.Evaluate[float64](`parseFloat(getComputedStyle(document.getElementById('room-q-text')).fontSize)`))
	if err != nil || fontSize < 60 {
		t.Fatalf("the question on a 1080p screen is %.0f px, want large type (≥ 60 px): %v", fontSize, err)
	}
	shot(t, room, a, "room-question-1920x1080", 1920, 1080, "")
	shot(t, room, a, "room-question-390x844", 390, 844, "")
	shot(t, room, a, "room-question-1920x1080", 1920, 1080, "")
	screenshots(t, ctx, a, "during-", "/admin/stages/main/chat", "/admin/talks/room")
	run("back to the chat console", chromedp.Navigate(a.httpURL("/admin/stages/main/chat")))

	run("take it off", chromedp.Click(chromedp.CSS(`#onscreen-clear`)))
	poll(room, "the question gone from the room screen", `document.getElementById('room-question').hidden`)

	// Stop the talk and the publisher, wait until the run is closed in the
	// bucket, then trim the replay in the console.
	if code, m := api(t, a, "POST", "/api/talks/room/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	pub.kill()
	waitRunsEnded(t, a, "main")
	consoleTrim(t, ctx, a, "room")
	poll(room, "the sponsors between talks", `document.body.classList.contains('is-between') &&
		!document.getElementById('room-sponsors').hidden && document.querySelectorAll('#room-logos img').length === 2`)
	shot(t, room, a, "room-between-1920x1080", 1920, 1080, "")
	screenshots(t, ctx, a, "after-", "/admin/talks/room", "/admin/sponsors", "/live/main")
}

// snapshotBucket is every object's key → ETag and modification time.
func snapshotBucket(t *testing.T, a *app) map[string]string {
	t.Helper()
	objs, err := a.store.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, o := range objs {
		m[o.Key] = o.ETag + " " + o.ModTime.String()
	}
	return m
}

// waitRunsEnded waits until every run playlist of stage in the bucket has
// ended (the recorder closes a run when its publisher leaves).
func waitRunsEnded(t *testing.T, a *app, stage string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		objs, err := a.store.List(t.Context(), "stages/"+stage+"/")
		if err != nil {
			t.Fatal(err)
		}
		open := ""
		for _, o := range objs {
			if strings.HasSuffix(o.Key, "/index.m3u8") && !strings.Contains(getAdmin(t, a, "/archive/"+o.Key), "#EXT-X-ENDLIST") {
				open = o.Key
			}
		}
		if open == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still open 60 s after the publisher left", open)
		}
		time.Sleep(200 * time.Millisecond) // polls the bucket, which has no change feed
	}
}

// shot saves a screenshot of path (or of the page as it is, for "") at
// w×h into $SALON_SCREENSHOTS, when it is set: for people to look at.
func shot(t *testing.T, ctx context.Context, a *app, name string, w, h int64, path string) {
	t.Helper()
	dir := webtest.ScreenshotDir(t)
	if dir == "" {
		return
	}
	steps := []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(w, h)}
	if w < 500 {
		steps[0] = chromedp.EmulateViewport(w, h, chromedp.EmulateMobile, chromedp.EmulateScale(2))
	}
	if path != "" {
		steps = append(steps, chromedp.Navigate(a.httpURL(path)), chromedp.Sleep(2*time.Second)) // let the page settle for the picture
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	capture := chromedp.CaptureScreenshot()
	if h < 1080 {
		capture = chromedp.FullScreenshot(100) // the whole page, to see below the fold
	}
	img, err := chromedp.Run(ctx, capture)
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), img, 0o644); err != nil {
		t.Error(err)
	}
}

// screenshots of the console's pages at a phone's and a laptop's size.
func screenshots(t *testing.T, ctx context.Context, a *app, prefix string, paths ...string) {
	for _, size := range []struct {
		name string
		w, h int64
	}{{"390x844", 390, 844}, {"1366x768", 1366, 768}} {
		for _, p := range paths {
			name := strings.NewReplacer("/", "-", "?", "").Replace(strings.Trim(p, "/"))
			shot(t, ctx, a, prefix+name+"-"+size.name, size.w, size.h, p)
		}
	}
}

// uploadSponsor adds a sponsor's logo through the API as the organiser.
func uploadSponsor(t *testing.T, a *app, name string, logo []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("name", name)
	fw, _ := mw.CreateFormFile("file", "logo")
	fw.Write(logo)
	mw.Close()
	req, _ := http.NewRequest("POST", a.httpURL("/api/sponsors"), &b)
	req.Header.Set("Authorization", "Bearer "+a.adminToken)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload the logo of %s: %d", name, resp.StatusCode)
	}
}

// testLogoPNG is a small PNG logo: a coloured bar.
func testLogoPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 240, 80))
	for y := range 80 {
		for x := range 240 {
			img.Set(x, y, color.RGBA{uint8(x), 60, 200 - uint8(y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
