package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
)

type probeStream struct {
	CodecName string `json:"codec_name"`
	CodecType string `json:"codec_type"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

// ffprobe reads url and returns its streams.
func ffprobe(t *testing.T, url string) []probeStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries",
		"stream=codec_name,codec_type,width,height", "-of", "json", url).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v\n%s", url, err, stderr)
	}
	var res struct{ Streams []probeStream }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	return res.Streams
}

func codecsOf(ss []probeStream) string {
	var names []string
	for _, s := range ss {
		names = append(names, s.CodecName)
	}
	return strings.Join(names, ",")
}

// decode plays url for secs seconds with ffmpeg and returns its error lines.
func decode(t *testing.T, url string, secs int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+40)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-i", url,
		"-t", strconv.Itoa(secs), "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", url, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestLive_PublishAndRead(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	cases := []struct {
		name      string
		out       func(a *app) []string
		enc       [][]string
		want      string
		w, h      int
		noDecode  bool
		audioOnly bool
	}{
		{name: "rtsp h264 aac", out: func(a *app) []string { return rtspOut(a.rtspURL("main", testKey)) },
			enc: [][]string{srcVideo, srcAudio, encH264, encAAC}, want: "h264,aac", w: 320, h: 240},
		{name: "rtmp h264 aac", out: func(a *app) []string { return rtmpOut(a.rtmpURL("main", testKey)) },
			enc: [][]string{srcVideo, srcAudio, encH264, encAAC}, want: "h264,aac", w: 320, h: 240},
		{name: "rtsp h265 opus", out: func(a *app) []string { return rtspOut(a.rtspURL("main", testKey)) },
			enc: [][]string{srcVideo, srcAudio, encH265, encOpus}, want: "hevc,opus", w: 320, h: 240},
		{name: "rtsp audio only", out: func(a *app) []string { return rtspOut(a.rtspURL("main", testKey)) },
			enc: [][]string{srcAudio, encAAC}, want: "aac", audioOnly: true},
		{name: "rtsp video only", out: func(a *app) []string { return rtspOut(a.rtspURL("main", testKey)) },
			enc: [][]string{srcVideo, encH264}, want: "h264", w: 320, h: 240},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := testApp(t)
			args := ffmpegArgs("", append(tc.enc, tc.out(a))...)
			pub := startProc(t, "ffmpeg", args...)
			waitSegments(t, a, "main", 3, 30*time.Second)
			url := a.httpURL("/live/main/index.m3u8")
			ss := ffprobe(t, url)
			if got := codecsOf(ss); got != tc.want {
				t.Fatalf("ffprobe codecs = %s, want %s", got, tc.want)
			}
			for _, s := range ss {
				if s.CodecType == "video" && (s.Width != tc.w || s.Height != tc.h) {
					t.Fatalf("resolution %dx%d, want %dx%d", s.Width, s.Height, tc.w, tc.h)
				}
			}
			if errs := decode(t, url, 8); errs != "" {
				t.Fatalf("decoding the live playlist printed errors:\n%s", errs)
			}
			pub.kill()
		})
	}
}

func TestLive_UnsupportedCodecRefused(t *testing.T) {
	needTools(t, "ffmpeg")
	a := testApp(t)
	pub := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, []string{"-c:v", "mjpeg", "-q:v", "5"}, rtspOut(a.rtspURL("main", testKey)))...)
	if err := pub.wait(t, 30*time.Second); err == nil {
		t.Fatal("ffmpeg published MJPEG successfully; want a refusal")
	}
	if !strings.Contains(pub.stderr.String(), "MJPEG") {
		t.Fatalf("the refusal does not name the codec; ffmpeg said:\n%s", pub.stderr.String())
	}
	if a.reg.Live("main") {
		t.Fatal("stage went live with an unsupported codec")
	}
}

// mediaSeq reads EXT-X-MEDIA-SEQUENCE.
func mediaSeq(t *testing.T, playlist string) int {
	t.Helper()
	m := regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`).FindStringSubmatch(playlist)
	if m == nil {
		t.Fatalf("no media sequence in\n%s", playlist)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// lastSegment is the number of the newest segment in the playlist.
func lastSegment(t *testing.T, playlist string) int {
	t.Helper()
	ms := regexp.MustCompile(`(?m)^(\d+)\.m4s$`).FindAllStringSubmatch(playlist, -1)
	if ms == nil {
		t.Fatalf("no segments in\n%s", playlist)
	}
	n, _ := strconv.Atoi(ms[len(ms)-1][1])
	return n
}

func TestLive_KeysAndSecondPublisher(t *testing.T) {
	needTools(t, "ffmpeg")
	a := testApp(t)
	first := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtspOut(a.rtspURL("main", testKey)))...)
	before := lastSegment(t, waitSegments(t, a, "main", 2, 30*time.Second))

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"wrong key rtsp", rtspOut(a.rtspURL("main", "wrong-key")), "401"},
		{"missing key rtsp", rtspOut(strings.TrimSuffix(a.rtspURL("main", ""), "?key=")), "401"},
		{"second publisher rtsp", rtspOut(a.rtspURL("main", testKey)), ""},
		{"wrong key rtmp", rtmpOut(a.rtmpURL("main", "wrong-key")), ""},
		{"second publisher rtmp", rtmpOut(a.rtmpURL("main", testKey)), ""},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			p := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, r.args)...)
			if err := p.wait(t, 30*time.Second); err == nil {
				t.Fatalf("publish succeeded; want refused. ffmpeg said:\n%s", p.stderr.String())
			}
			if r.want != "" && !strings.Contains(p.stderr.String(), r.want) {
				t.Fatalf("want %q in ffmpeg's error, got:\n%s", r.want, p.stderr.String())
			}
		})
	}
	for _, s := range a.reg.Stages() {
		if s.Name == "main" && s.Source != "rtsp" {
			t.Fatalf("stage main now comes from %q; the first publisher was displaced", s.Source)
		}
	}
	// The first publisher is unaffected: still running, still producing segments.
	select {
	case <-first.done:
		t.Fatalf("the first publisher stopped: %v\n%s", first.err, first.stderr.String())
	default:
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
		if lastSegment(t, string(body)) >= before+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first publisher's stream stopped growing after the refusals:\n%s", body)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestLive_PublisherRestart: a publisher drops and comes back. With the same
// encoder settings the playlist simply goes on — same init segment, no
// EXT-X-DISCONTINUITY, at which VLC stops for good (issue 13, finding 17);
// with a new resolution it continues after a discontinuity and a new
// EXT-X-MAP. Segment numbers are never reused, every reload passes the
// RFC 8216 checks, and an ffmpeg reader plays across the gap.
func TestLive_PublisherRestart(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	srcSmall := []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30"}
	cases := []struct {
		name     string
		second   []string // the returning publisher's video source
		wantDisc bool
	}{
		{"same encoder settings", srcVideo, false},
		{"new resolution", srcSmall, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := testApp(t, func(c *Config) { c.Window = 20 * time.Second })
			args := func(src []string) []string {
				return ffmpegArgs("", src, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))
			}
			pub := startProc(t, "ffmpeg", args(srcVideo)...)
			waitSegments(t, a, "main", 3, 30*time.Second)

			// Every playlist the server emits, reloaded as a player would, is
			// checked against RFC 8216 and every URI in it is fetched.
			checker := startPlaylistChecker(t, a, "main")

			// A viewer that keeps reading across the outage.
			reader := startProc(t, "ffmpeg", "-hide_banner", "-v", "error", "-i", a.httpURL("/live/main/index.m3u8"), "-t", "14", "-f", "null", "-")
			time.Sleep(2 * time.Second)
			pub.kill()
			for deadline := time.Now().Add(30 * time.Second); a.reg.Live("main"); {
				if time.Now().After(deadline) {
					t.Fatal("the stage is still live 30 s after its publisher was killed")
				}
				time.Sleep(100 * time.Millisecond)
			}
			_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
			lastBefore := lastSegment(t, string(body))
			startProc(t, "ffmpeg", args(tc.second)...)

			deadline := time.Now().Add(30 * time.Second)
			var pl string
			for {
				_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
				pl = string(body)
				if lastSegment(t, pl) >= lastBefore+3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no new segments after the publisher came back:\n%s", pl)
				}
				time.Sleep(300 * time.Millisecond)
			}
			// Segment numbers after the restart continue, never reused.
			seen := map[string]bool{}
			for _, line := range strings.Split(pl, "\n") {
				if strings.HasSuffix(line, ".m4s") {
					if seen[line] {
						t.Fatalf("segment %s listed twice:\n%s", line, pl)
					}
					seen[line] = true
				}
			}
			hasDisc := strings.Contains(pl, "#EXT-X-DISCONTINUITY\n")
			maps := strings.Count(pl, "#EXT-X-MAP")
			switch {
			case tc.wantDisc && (!hasDisc || maps < 2):
				t.Fatalf("new codec parameters want a discontinuity and a new EXT-X-MAP:\n%s", pl)
			case !tc.wantDisc && (hasDisc || maps != 1):
				t.Fatalf("the same encoder settings want no discontinuity and one EXT-X-MAP:\n%s", pl)
			}
			if tc.wantDisc {
				after := strings.SplitN(pl, "#EXT-X-DISCONTINUITY\n", 2)[1]
				if first := regexp.MustCompile(`(?m)^(\d+)\.m4s$`).FindStringSubmatch(after); first == nil {
					t.Fatalf("no segment after the discontinuity:\n%s", pl)
				} else if n, _ := strconv.Atoi(first[1]); n <= lastBefore {
					t.Fatalf("first segment after reconnect is %d, not after %d: numbers reused", n, lastBefore)
				}
			}
			checker.stop(t)
			if err := reader.wait(t, 60*time.Second); err != nil {
				t.Fatalf("the reading ffmpeg failed across the reconnect: %v\n%s", err, reader.stderr.String())
			}
			if s := strings.TrimSpace(reader.stderr.String()); s != "" {
				t.Logf("reader's messages across the reconnect:\n%s", s)
			}
			// ffprobe reads the playlist that spans both publishes.
			ss := ffprobe(t, a.httpURL("/live/main/index.m3u8"))
			if got := codecsOf(ss); got != "h264,aac" {
				t.Fatalf("ffprobe across the restart: codecs %s", got)
			}
		})
	}
}

// playlistChecker reloads a live playlist every 500 ms in the background.
type playlistChecker struct {
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []string
	reloads int
	fetched int
}

func startPlaylistChecker(t *testing.T, a *app, stage string) *playlistChecker {
	c := &playlistChecker{done: make(chan struct{})}
	base, _ := url.Parse(a.httpURL("/live/" + stage + "/index.m3u8"))
	fail := func(format string, args ...any) {
		c.mu.Lock()
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
		c.mu.Unlock()
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		var tr hlscheck.Tracker
		maps := map[string]bool{}
		for {
			select {
			case <-c.done:
				return
			case <-time.After(500 * time.Millisecond):
			}
			resp, err := http.Get(base.String())
			if err != nil {
				fail("reload: %v", err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := tr.Next(body); err != nil {
				fail("%v\n%s", err, body)
				continue
			}
			var uris []string
			for _, s := range tr.Added() {
				uris = append(uris, s.URI)
				if !maps[s.Map] {
					maps[s.Map] = true
					uris = append(uris, s.Map)
				}
			}
			for _, u := range uris {
				ref, _ := url.Parse(u)
				r, err := http.Get(base.ResolveReference(ref).String())
				if err != nil {
					fail("fetch %s: %v", u, err)
					continue
				}
				n, _ := io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != 200 || n == 0 {
					fail("fetch %s: %d, %d bytes", u, r.StatusCode, n)
				}
			}
			c.mu.Lock()
			c.reloads++
			c.fetched += len(uris)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.stop(nil) })
	return c
}

// stop ends the checker and, when t is given, fails it with what was found.
func (c *playlistChecker) stop(t *testing.T) {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
	if t == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) > 0 {
		t.Fatalf("%d playlist problems in %d reloads; first: %s", len(c.errs), c.reloads, c.errs[0])
	}
	// A floor that shows the checker ran, not a rate: reloads are every
	// 500 ms of wall clock, which a loaded machine stretches.
	if c.reloads < 5 || c.fetched < 5 {
		t.Fatalf("only %d reloads and %d fetches: the checker did not run", c.reloads, c.fetched)
	}
	t.Logf("RFC 8216 check: %d reloads, %d URIs fetched, no problem", c.reloads, c.fetched)
}
