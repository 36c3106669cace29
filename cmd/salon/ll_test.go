package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"

	"github.com/salon/salon/hls/hlscheck"
)

// TestLive_LowLatencyReaders: an ffmpeg publish on a stage with parts
// (-part 200ms) is read by gohlslib's client in its low-latency mode (preload
// hints, parts, delta updates), and by ffprobe and ffmpeg as classic HLS.
func TestLive_LowLatencyReaders(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	a := testApp(t, lowLatency)
	if a.cfg.PartDuration == 0 {
		t.Fatal("the test app has no parts")
	}
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	pl := waitSegments(t, a, "main", 3, 30*time.Second)
	for _, tag := range []string{"#EXT-X-PART-INF:PART-TARGET=0.2", "#EXT-X-PRELOAD-HINT:TYPE=PART", "CAN-BLOCK-RELOAD=YES"} {
		if !strings.Contains(pl, tag) {
			t.Fatalf("the live playlist has no %s:\n%s", tag, pl)
		}
	}

	// gohlslib: samples of both tracks, and parts fetched through preload hints.
	var (
		mu            sync.Mutex
		video, audio  int
		parts, blocks int
		segs          int
		decodeErrs    []string
	)
	enough := make(chan struct{})
	var once sync.Once
	check := func() {
		if video >= 60 && audio >= 60 && parts >= 10 {
			once.Do(func() { close(enough) })
		}
	}
	var c *gohlslib.Client
	c = &gohlslib.Client{
		URI: a.httpURL("/live/main/index.m3u8"),
		OnRequest: func(r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Query().Get("_HLS_skip") != "" {
				blocks++
			}
		},
		OnDownloadPart:            func(string) { mu.Lock(); parts++; mu.Unlock() },
		OnDownloadSegment:         func(string) { mu.Lock(); segs++; mu.Unlock() },
		OnDownloadPrimaryPlaylist: func(string) {},
		OnDownloadStreamPlaylist:  func(string) {},
		OnDecodeError: func(err error) {
			mu.Lock()
			decodeErrs = append(decodeErrs, err.Error())
			mu.Unlock()
		},
		OnTracks: func(tracks []*gohlslib.Track) error {
			for _, tr := range tracks {
				switch tr.Codec.(type) {
				case *codecs.H264:
					c.OnDataH26x(tr, func(pts, dts int64, au [][]byte) {
						mu.Lock()
						video++
						check()
						mu.Unlock()
					})
				case *codecs.MPEG4Audio:
					c.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) {
						mu.Lock()
						audio += len(aus)
						check()
						mu.Unlock()
					})
				}
			}
			return nil
		},
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-enough:
	case err := <-c.Wait():
		t.Fatalf("gohlslib stopped: %v", err)
	case <-time.After(90 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("gohlslib got %d video and %d audio units from %d parts (%d segments) in 90 s", video, audio, parts, segs)
	}
	c.Close()
	mu.Lock()
	t.Logf("gohlslib: %d video and %d audio units, %d parts, %d segments, %d delta reloads", video, audio, parts, segs, blocks)
	if blocks == 0 {
		t.Error("gohlslib never asked for a delta update: did it take the low-latency path?")
	}
	if len(decodeErrs) > 0 {
		t.Errorf("gohlslib reported %d decode errors, first: %s", len(decodeErrs), decodeErrs[0])
	}
	mu.Unlock()

	url := a.httpURL("/live/main/index.m3u8")
	if got := codecsOf(ffprobe(t, url)); got != "h264,aac" {
		t.Fatalf("ffprobe codecs = %s, want h264,aac", got)
	}
	if errs := decode(t, url, 5); errs != "" {
		t.Fatalf("ffmpeg decoding the low-latency playlist printed errors:\n%s", errs)
	}
}

// TestLive_BlockingReload drives the low-latency delivery directives over a
// real stream, across a publisher that stops and comes back, with
// hlscheck.Blocking: blocking reloads answer with the part asked for, the
// hinted part arrives, far-ahead requests are refused, delta updates are
// valid, and segments are their parts joined. The publisher comes back with
// the same settings (the playlist just goes on) or another resolution (a new
// init segment after a discontinuity, announced before the first part).
func TestLive_BlockingReload(t *testing.T) {
	needTools(t, "ffmpeg")
	srcSmall := []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30"}
	for _, tc := range []struct {
		name   string
		second []string
	}{{"same settings", srcVideo}, {"new resolution", srcSmall}} {
		t.Run(tc.name, func(t *testing.T) {
			a := testBlockingReload(t, tc.second)
			_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
			if disc := strings.Contains(string(body), "#EXT-X-DISCONTINUITY\n"); disc != (tc.name == "new resolution") {
				t.Errorf("discontinuity in the playlist after the restart: %v, want %v\n%s", disc, !disc, body)
			}
		})
	}
}

func testBlockingReload(t *testing.T, second []string) *app {
	a := testApp(t, lowLatency)
	args := ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))
	pub := startProc(t, "ffmpeg", args...)
	waitSegments(t, a, "main", 3, 30*time.Second)

	u, _ := url.Parse(a.httpURL("/live/main/index.m3u8"))
	b := &hlscheck.Blocking{URL: u}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	var mu sync.Mutex
	snapshot := func() hlscheck.Blocking {
		mu.Lock()
		defer mu.Unlock()
		return *b
	}
	go func() {
		for ctx.Err() == nil {
			mu.Lock()
			err := b.Step(ctx)
			mu.Unlock()
			if err != nil && ctx.Err() == nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	waitFor := func(what string, cond func(s hlscheck.Blocking) bool) {
		t.Helper()
		deadline := time.After(90 * time.Second)
		for {
			if s := snapshot(); cond(s) {
				return
			}
			select {
			case err := <-errc:
				t.Fatalf("while waiting for %s: %v", what, err)
			case <-deadline:
				t.Fatalf("waiting for %s: gave up; checked %+v", what, snapshot())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitFor("blocking reloads, delta updates and refusals", func(s hlscheck.Blocking) bool {
		return s.Blocked >= 20 && s.Deltas >= 2 && s.Refusals >= 4 && s.Joined >= 2
	})
	pub.kill()
	waitFor("the checker to see the stage offline", func(s hlscheck.Blocking) bool { return s.Offline >= 1 })
	before := snapshot()
	startProc(t, "ffmpeg", ffmpegArgs("", second, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitFor("blocking reloads after the publisher came back", func(s hlscheck.Blocking) bool {
		return s.Blocked >= before.Blocked+20 && s.Joined >= before.Joined+2 && s.Deltas >= before.Deltas+1
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := snapshot()
	t.Logf("checked: %d steps, %d blocking reloads, %d hinted parts, %d delta updates, %d refusals, %d offline waits, %d segments = parts joined",
		s.Steps, s.Blocked, s.PartsFetched, s.Deltas, s.Refusals, s.Offline, s.Joined)
	return a
}

// lowLatency turns on Low-Latency HLS (-part 200ms), the default: tests that
// depend on parts say so rather than rely on the default.
func lowLatency(c *Config) { c.PartDuration = 200 * time.Millisecond }
