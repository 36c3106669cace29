package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/web/webtest"
)

// putCaptions uploads a caption file as its body with token.
func putCaptions(t *testing.T, a *app, id, lang, token, body string) (int, map[string]any) {
	t.Helper()
	return apiBody(t, a.httpURL("/api/talks/"+id+"/captions/"+lang), token, "PUT", "text/vtt", body)
}

func apiBody(t *testing.T, url, token, method, ctype, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	if len(body) > 1<<20 {
		// A body over a limit is refused from its Content-Length before it
		// is read: ask before sending it, as curl does, or the refusal can
		// reach a client still writing as a reset connection.
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, m
}

// probeSubtitles is what `ffprobe -show_streams` finds in an HLS URL:
// codec names by type. ffmpeg's HLS demuxer reads subtitle renditions only
// with -strict experimental, and (ffmpeg 5.1) its WebVTT reader reads a
// live subtitle playlist to its end, which never comes: -max_reload 1 lets
// the probe stop at the live edge.
func probeSubtitles(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-strict", "experimental", "-max_reload", "1", "-show_streams",
		"-show_entries", "stream=codec_type,codec_name", "-of", "compact", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe -show_streams %s: %v\n%s", url, err, out)
	}
	return string(out)
}

// TestCaptions_LiveUploadAndTranscript: the speaker of the live talk posts
// cues; they are a WebVTT subtitle rendition of the stage's live HLS that
// ffprobe lists and Chromium shows as a text track. The speaker uploads an
// SRT (hostile files are refused with the line at fault, markup dropped);
// when the talk ends the live cues are archived into the bucket (MinIO)
// beside it, the replay's multivariant playlist lists both tracks, and on
// the talk page the transcript can be searched and a line clicked (or
// chosen with Enter) plays from there.
func TestCaptions_LiveUploadAndTranscript(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	browser := webtest.Browser(t)
	a := testApp(t, minioArchive(t))
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)

	if code, m := api(t, a, "POST", "/api/talks", `{"id":"subs","title":"字幕 and transcripts","speakers":[{"name":"Ada"}],"stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"other","title":"Another talk","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	tok, _ := speakerLink(t, a, "subs")
	otherTok, _ := speakerLink(t, a, "other")
	if code, m := api(t, a, "POST", "/api/talks/subs/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	cueURL := a.httpURL("/api/stages/main/captions")

	// Refusals: clear 4xx, nothing kept.
	for _, tc := range []struct {
		name, token, body string
		status            int
		want              string
	}{
		{"another talk's speaker", otherTok, `{"text":"x","lang":"en"}`, 403, "not live on this stage"},
		{"not a language", tok, `{"text":"x","lang":"<script>"}`, 400, "BCP 47"},
		{"no language", tok, `{"text":"x"}`, 400, "both are required"},
		{"only markup", tok, `{"text":"<script></script>","lang":"en"}`, 400, "empty"},
		{"too long", tok, `{"text":"` + strings.Repeat("长", 200) + `","lang":"en"}`, 400, "more than 500"},
	} {
		if code, m := apiBody(t, cueURL, tc.token, "POST", "application/json", tc.body); code != tc.status || !strings.Contains(fmt.Sprint(m["error"]), tc.want) {
			t.Errorf("%s: %d %v, want %d with %q", tc.name, code, m, tc.status, tc.want)
		}
	}
	if code, _, _ := get(t, a.httpURL("/live/main/captions/en/index.m3u8")); code != 404 {
		t.Errorf("subtitle playlist before any cue: %d, want 404", code)
	}

	// A captioner with the speaker's link posts a cue every 400 ms until
	// told to stop: whatever segment a player is at has one.
	var mu sync.Mutex
	posted := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			req, _ := http.NewRequest("POST", cueURL, strings.NewReader(fmt.Sprintf(`{"text":"live cue %d <b>现场</b><img src=x onerror=alert(1)>","lang":"en"}`, i)))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				if resp.StatusCode == 201 {
					mu.Lock()
					posted++
					mu.Unlock()
				}
				resp.Body.Close()
			}
			select {
			case <-stop:
				return
			case <-time.After(400 * time.Millisecond):
			}
		}
	}()
	stopPosting := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopPosting()
	waitMoreSegments(t, a, "main/source", 2) // the stage's playlist is multivariant now

	code, mv, _ := get(t, a.httpURL("/live/main/index.m3u8"))
	if code != 200 || !strings.Contains(string(mv), `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"`) || !strings.Contains(string(mv), `LANGUAGE="en"`) ||
		!strings.Contains(string(mv), `SUBTITLES="subs"`) {
		t.Fatalf("live playlist with captions: %d\n%s", code, mv)
	}
	_, srcBody, _ := get(t, a.httpURL("/live/main/source/index.m3u8"))
	code, subBody, _ := get(t, a.httpURL("/live/main/captions/en/index.m3u8"))
	video, verr := hlscheck.CheckMediaPlaylist(srcBody)
	subs, serr := hlscheck.CheckMediaPlaylist(subBody)
	if code != 200 || verr != nil || serr != nil {
		t.Fatalf("subtitle playlist: %d %v %v\n%s", code, verr, serr, subBody)
	}
	if err := hlscheck.CheckSubtitles(video, subs); err != nil {
		t.Errorf("the subtitle playlist does not follow the video's: %v", err)
	}
	if out := probeSubtitles(t, a.httpURL("/live/main/index.m3u8")); !strings.Contains(out, "codec_name=webvtt") || !strings.Contains(out, "codec_name=h264") {
		t.Errorf("ffprobe of the live stage lists no webvtt stream:\n%s", out)
	}

	// Chromium on the live page: CC on, the cues arrive as a text track.
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({t: document.getElementById('video') && document.getElementById('video').currentTime,
				tracks: Array.from(document.getElementById('video').textTracks).map(function (t) { return [t.kind, t.language, t.mode, t.cues ? t.cues.length : -1] }),
				transcript: document.getElementById('transcript') && document.getElementById('transcript').outerHTML.slice(0, 600)})`))
			t.Fatalf("waiting for %s: %v; page state %s", what, err, state)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/live/main"))); err != nil {
		t.Fatal(err)
	}
	poll("a subtitle track from the live HLS", `Array.from(document.getElementById('video').textTracks).some(function (t) { return t.kind === 'subtitles' && t.language === 'en' })`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('cc').click(), true`)); err != nil {
		t.Fatal(err)
	}
	poll("live cues in Chromium's text track", `Array.from(document.getElementById('video').textTracks).some(function (t) {
		return t.mode === 'showing' && t.cues && Array.from(t.cues).some(function (c) { return /^live cue \d+ <b>现场<\/b>$/.test(c.text) }) })`)
	// The cues are placed on the player's timeline: one posted now shows
	// as the player reaches it (a cue every 400 ms, each shown until the
	// next: some cue is always active once the mapping is right).
	const activeLiveCue = `Array.from(document.getElementById('video').textTracks).some(function (t) {
		return t.mode === 'showing' && t.activeCues && Array.from(t.activeCues).some(function (c) { return /^live cue \d+ <b>现场<\/b>$/.test(c.text) }) })`
	poll("a live cue showing as the player reaches it", activeLiveCue)
	webtest.Screenshot(t, ctx, "live-cues-live-page")

	// The talk's page while it is live: the replay playlist has no
	// subtitles yet, the page's own track has the stage's cues since the
	// talk started, shown with CC and listed in the transcript.
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/talks/subs"))); err != nil {
		t.Fatal(err)
	}
	poll("the live cues' track on the live talk's page", `Array.from(document.getElementById('video').textTracks).some(function (t) {
		return t.kind === 'subtitles' && t.language === 'en' && t.cues && t.cues.length > 0 })`)
	poll("CC on (remembered from the live page)", `document.getElementById('cc').getAttribute('aria-pressed') === 'true'`)
	// The talk page does not start playing by itself: play it (muted, as
	// autoplay rules allow), from where the viewer would join.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () { var v = document.getElementById('video'); v.muted = true; v.play(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	poll("a live cue showing on the live talk's page", activeLiveCue)
	poll("live cues in the transcript", `Array.from(document.querySelectorAll('#transcript-lines .transcript-text')).some(function (e) { return /^live cue \d+ 现场$/.test(e.textContent) })
		&& !document.getElementById('transcript').hidden && !document.querySelector('#transcript-lines img')`)
	webtest.Screenshot(t, ctx, "live-cues-talk-page")

	// The speaker uploads captions while the talk is live; hostile files first.
	hostile := []struct {
		name, lang, body string
		status           int
		want             string
	}{
		{"broken timestamp", "zh-CN", "WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nA\n", 400, "line 3: end time"},
		{"unsorted", "zh-CN", "WEBVTT\n\n00:00:05.000 --> 00:00:06.000\nA\n\n00:00:01.000 --> 00:00:02.000\nB\n", 400, "line 6"},
		{"huge cue", "zh-CN", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + strings.Repeat("字", 2000) + "\n", 400, "line 3"},
		{"not captions", "zh-CN", "<html><body><script>alert(1)</script></body></html>", 400, "neither WebVTT"},
		{"not UTF-8", "zh-CN", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\ncaf\xe9\n", 400, "line 4"},
		{"not a language", "en_US", "WEBVTT\n", 400, "BCP 47"},
		{"too large", "zh-CN", "WEBVTT\n\n" + strings.Repeat("x", 3<<20), 413, "limit"},
	}
	for _, h := range hostile {
		if code, m := putCaptions(t, a, "subs", h.lang, tok, h.body); code != h.status || !strings.Contains(fmt.Sprint(m["error"]), h.want) {
			t.Errorf("%s: %d %v, want %d with %q", h.name, code, m, h.status, h.want)
		}
	}
	srt := "\ufeff1\r\n00:00:01,000 --> 00:00:03,000\r\n第一行 first line\r\n\r\n2\r\n00:00:04,000 --> 00:00:06,000\r\n第二行 <script>alert(1)</script>second line\r\n\r\n3\r\n00:00:07,000 --> 00:00:09,000\r\n<i>第三行</i> third line\r\n"
	if code, m := putCaptions(t, a, "subs", "zh-cn", tok, srt); code != 201 || m["lang"] != "zh-CN" || m["cues"] != float64(3) {
		t.Fatalf("the speaker's SRT upload: %d %v", code, m)
	}
	if code, m := putCaptions(t, a, "subs", "fr", otherTok, srt); code != 403 {
		t.Errorf("another talk's speaker uploads: %d %v, want 403", code, m)
	}

	waitMoreSegments(t, a, "main/source", 4) // a talk of a dozen seconds
	stopPosting()
	if code, m := api(t, a, "POST", "/api/talks/subs/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	mu.Lock()
	t.Logf("%d live cues posted", posted)
	mu.Unlock()
	if code, m := putCaptions(t, a, "subs", "zh-CN", tok, srt); code != 403 || !strings.Contains(fmt.Sprint(m["error"]), "ended") {
		t.Errorf("the speaker uploads after the talk: %d %v, want 403", code, m)
	}

	// In the bucket: the upload, normalised to WebVTT with the script gone,
	// and the live cues, archived by the end-of-talk job.
	zh := string(waitArchived(t, a.httpURL("/archive/talks/subs/captions/zh-CN.vtt"), 30*time.Second))
	if !strings.HasPrefix(zh, "WEBVTT\n") || strings.Contains(zh, "script") || !strings.Contains(zh, "00:00:04.000 --> 00:00:06.000\n第二行 alert(1)second line") {
		t.Errorf("stored zh-CN.vtt:\n%s", zh)
	}
	en := string(waitArchived(t, a.httpURL("/archive/talks/subs/captions/en.vtt"), 60*time.Second))
	if !strings.Contains(en, "live cue") || strings.Contains(en, "<img") {
		t.Errorf("archived en.vtt:\n%s", en)
	}
	// Its subtitle playlist follows (with the re-cut that lists it).
	waitArchived(t, a.httpURL("/archive/talks/subs/captions/en.m3u8"), 30*time.Second)
	objs, err := a.store.List(context.Background(), "talks/subs/captions/")
	if err != nil || len(objs) != 7 {
		t.Errorf("talks/subs/captions/ in MinIO: %v %v, want en and zh-CN: .vtt, .m3u8 and hls/.vtt, and en.live.json (the live track's wall-clock cues)", objs, err)
	}
	if live := string(waitArchived(t, a.httpURL("/archive/talks/subs/captions/en.live.json"), 10*time.Second)); !strings.Contains(live, `"text":"live cue`) || strings.Contains(live, "<img") {
		t.Errorf("en.live.json: %.300s", live)
	}
	// The replay's subtitle segment maps its cues onto the video's timeline.
	if seg := string(waitArchived(t, a.httpURL("/archive/talks/subs/captions/hls/zh-CN.vtt"), 10*time.Second)); !strings.Contains(seg, "X-TIMESTAMP-MAP=MPEGTS:") ||
		strings.Contains(seg, "MPEGTS:0,") || !strings.Contains(seg, "第二行") {
		t.Errorf("the replay's zh-CN subtitle segment:\n%s", seg)
	}
	if out := probeSubtitles(t, a.httpURL("/archive/talks/subs/index.m3u8")); !strings.Contains(out, "codec_name=webvtt") ||
		!strings.Contains(out, "tag:language=zh-CN") || !strings.Contains(out, "tag:language=en") {
		t.Errorf("ffprobe of the replay lists no webvtt streams in zh-CN and en:\n%s", out)
	}

	// The talk page: the tracks, the transcript, search, click and Enter.
	if err := chromedp.Do(ctx, chromedp.Navigate(a.httpURL("/talks/subs"))); err != nil {
		t.Fatal(err)
	}
	poll("the uploaded captions in Chromium's text track", `Array.from(document.getElementById('video').textTracks).some(function (t) {
		return t.language === 'zh-CN' && t.cues && t.cues.length === 3 && t.cues[1].startTime === 4 && t.cues[1].text.indexOf('second line') > 0 })`)
	// The transcript follows the track CC shows (English, chosen on the live
	// page and remembered); the viewer picks the uploaded Chinese one.
	poll("the transcript's language choice", `!document.getElementById('transcript').hidden && !document.getElementById('transcript-lang').hidden`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () { var s = document.getElementById('transcript-lang');
		s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); return true })()`)); err != nil {
		t.Fatal(err)
	}
	poll("the transcript's lines", `document.querySelectorAll('#transcript-lines .transcript-line').length === 3`)
	if err := chromedp.Do(ctx, chromedp.SendKeys("#transcript-search", "SECOND")); err != nil {
		t.Fatal(err)
	}
	poll("the search filtering and marking", `document.getElementById('transcript-lines').dataset.shown === '1' &&
		document.querySelector('#transcript-lines li:not([hidden]) mark').textContent === 'second' &&
		!document.querySelector('#transcript-lines script')`)
	poll("a playable replay", `document.getElementById('video').readyState >= 1`)
	if err := chromedp.Do(ctx, chromedp.Click("#transcript-lines li:not([hidden]) .transcript-line")); err != nil {
		t.Fatal(err)
	}
	poll("the video at the clicked line (4 s)", `Math.abs(document.getElementById('video').currentTime - 4) < 1`)
	poll("the line highlighted", `document.querySelector('#transcript-lines li:not([hidden]) .transcript-line').getAttribute('aria-current') === 'true'`)
	// Keyboard: clear the search, go to the third line, Enter.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () { var s = document.getElementById('transcript-search'); s.value = ''; s.dispatchEvent(new Event('input')); return true })()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Focus(`#transcript-lines li:nth-child(3) .transcript-line`), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	poll("the video at the third line (7 s) after Enter", `Math.abs(document.getElementById('video').currentTime - 7) < 1`)
}

// TestCaptions_API: the captions routes' answers besides the happy path:
// the body's type, an empty file, reading back as WebVTT, deleting, hidden
// talks, and the live rendition's file names.
func TestCaptions_API(t *testing.T) {
	a := testApp(t)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"capi","title":"Captions API","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	tok, _ := speakerLink(t, a, "capi")
	u := a.httpURL("/api/talks/capi/captions/")
	if code, m := apiBody(t, u+"en", tok, "PUT", "image/png", "WEBVTT\n"); code != 415 {
		t.Errorf("a PNG: %d %v, want 415", code, m)
	}
	if code, m := apiBody(t, u+"en", tok, "PUT", "text/vtt", "WEBVTT\n\nNOTE nothing\n"); code != 400 || !strings.Contains(fmt.Sprint(m["error"]), "no cue") {
		t.Errorf("no cue: %d %v, want 400", code, m)
	}
	if code, _, _ := get(t, u+"en"); code != 404 {
		t.Errorf("GET before an upload: %d, want 404", code)
	}
	if code, m := apiBody(t, u+"EN", tok, "PUT", "application/x-subrip", "1\n00:00:01,000 --> 00:00:02,000\n<b>Hi</b> & bye\n"); code != 201 || m["lang"] != "en" || m["source"] != "upload" || m["uploaded_by"] != "speaker" {
		t.Fatalf("upload: %d %v", code, m)
	}
	code, body, h := get(t, u+"en")
	if code != 200 || h.Get("Content-Type") != "text/vtt; charset=utf-8" || string(body) != "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<b>Hi</b> &amp; bye\n" {
		t.Errorf("GET: %d %s %q", code, h.Get("Content-Type"), body)
	}
	if code, m := api(t, a, "GET", "/api/talks/capi", ""); code != 200 || fmt.Sprint(m["captions"]) == "<nil>" {
		t.Errorf("the talk lists no captions: %v", m)
	}
	if code, m := api(t, a, "PATCH", "/api/talks/capi", `{"hidden":true}`); code != 200 {
		t.Fatalf("hide: %d %v", code, m)
	}
	if code, _, _ := get(t, u+"en"); code != 404 {
		t.Errorf("GET of a hidden talk's captions: %d, want 404", code)
	}
	if code, m := apiBody(t, u+"en", tok, "DELETE", "", ""); code != 204 {
		t.Errorf("delete: %d %v", code, m)
	}
	if code, m := apiBody(t, u+"en", tok, "DELETE", "", ""); code != 404 {
		t.Errorf("second delete: %d %v, want 404", code, m)
	}
	for _, p := range []string{"/live/main/captions/en/index.m3u8", "/live/main/captions/EN/index.m3u8", "/live/main/captions/en/x.vtt",
		"/live/main/captions/en/1.m4s", "/live/main/captions/%3Cscript%3E/index.m3u8"} {
		if code, _, _ := get(t, a.httpURL(p)); code != 404 {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}
