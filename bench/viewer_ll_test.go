package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLL serves a scripted LL-HLS stream: a part every step, perSeg parts per
// segment, parts listed for the last two complete segments and the one being
// written, blocking reloads, preload hints held until their part exists, and
// delta updates. Names are not salon's ("s{msn}p{n}.mp4", "seg{msn}.mp4")
// so that the player is seen following the playlist. Part k (counted from 0
// since the start) exists once start + (k+1-first)·step has passed, where
// first parts already exist when the server starts.
type fakeLL struct {
	step     time.Duration
	perSeg   int
	window   int           // complete segments listed
	holdBack time.Duration // PART-HOLD-BACK
	// partDelay delays a part response that starts at elapsed (nil: none).
	partDelay func(elapsed time.Duration) time.Duration
	audio     bool // serve a multivariant playlist with a separate audio rendition

	start time.Time
	first int // parts that exist at start

	mu        sync.Mutex
	parts     map[string]map[string]int // viewer → part URI → fetches
	early     int                       // part requests that arrived before the part existed (held)
	blocking  int                       // playlist requests with _HLS_msn and _HLS_part
	skips     int                       // playlist requests with _HLS_skip=YES
	plain     int                       // playlist requests without blocking parameters
	playlists map[string]int            // path → requests
}

func newFakeLL(t *testing.T, f *fakeLL) *httptest.Server {
	t.Helper()
	f.start = time.Now()
	f.first = f.perSeg*(f.window+1) + 1
	f.parts = make(map[string]map[string]int)
	f.playlists = make(map[string]int)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ll/index.m3u8", f.multivariant)
	mux.HandleFunc("GET /ll/{track}/media.m3u8", f.playlist)
	mux.HandleFunc("GET /ll/{track}/init.mp4", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 100)) })
	mux.HandleFunc("GET /ll/{track}/{name}", f.media)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// avail is the number of parts that exist now.
func (f *fakeLL) avail() int { return f.first + int(time.Since(f.start)/f.step) }

// existsAt is when part k exists.
func (f *fakeLL) existsAt(k int) time.Time {
	return f.start.Add(time.Duration(k+1-f.first) * f.step)
}

func (f *fakeLL) multivariant(w http.ResponseWriter, r *http.Request) {
	if !f.audio {
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nvideo/media.m3u8\n")
		return
	}
	fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO=\"aud\"\nvideo/media.m3u8\n"+
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"a\",DEFAULT=YES,URI=\"audio/media.m3u8\"\n")
}

func (f *fakeLL) playlist(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.playlists[r.URL.Path]++
	switch {
	case q.Has("_HLS_msn") && q.Has("_HLS_part"):
		f.blocking++
	case q.Has("_HLS_msn"):
	default:
		f.plain++
	}
	if q.Get("_HLS_skip") == "YES" {
		f.skips++
	}
	f.mu.Unlock()
	if q.Has("_HLS_msn") {
		msn, err1 := strconv.Atoi(q.Get("_HLS_msn"))
		p, err2 := strconv.Atoi(q.Get("_HLS_part"))
		if err1 != nil || err2 != nil || p > f.perSeg {
			http.Error(w, "bad blocking request", http.StatusBadRequest)
			return
		}
		k := msn*f.perSeg + p // _HLS_part = perSeg is part 0 of the next segment
		if k >= f.avail()+3*f.perSeg {
			http.Error(w, "too far ahead", http.StatusBadRequest)
			return
		}
		if !waitUntil(r, f.existsAt(k)) {
			return
		}
	}
	n := f.avail()
	edge := n / f.perSeg // segment being written
	firstSeg := edge - f.window
	skip := 0
	if q.Get("_HLS_skip") == "YES" {
		skip = f.window - 3
	}
	var b strings.Builder
	target := time.Duration(f.perSeg) * f.step
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:%d\n", int(target.Seconds()+0.999))
	fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f,CAN-SKIP-UNTIL=%.3f\n",
		f.holdBack.Seconds(), 6*target.Seconds())
	fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%.3f\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-MAP:URI=\"init.mp4\"\n", f.step.Seconds(), firstSeg)
	if skip > 0 {
		fmt.Fprintf(&b, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", skip)
	}
	writeParts := func(msn, count int) {
		for p := range count {
			ind := ""
			if p == 0 {
				ind = ",INDEPENDENT=YES"
			}
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%.3f,URI=\"s%dp%d.mp4\"%s\n", f.step.Seconds(), msn, p, ind)
		}
	}
	for msn := firstSeg + skip; msn < edge; msn++ {
		if msn >= edge-2 {
			writeParts(msn, f.perSeg)
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\nseg%d.mp4\n", target.Seconds(), msn)
	}
	writeParts(edge, n%f.perSeg)
	fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s%dp%d.mp4\"\n", edge, n%f.perSeg)
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Write([]byte(b.String()))
}

func (f *fakeLL) media(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var msn, p int
	if _, err := fmt.Sscanf(name, "s%dp%d.mp4", &msn, &p); err != nil {
		// A whole segment: only ones complete and in the window exist.
		if _, err := fmt.Sscanf(name, "seg%d.mp4", &msn); err != nil || (msn+1)*f.perSeg > f.avail() {
			http.NotFound(w, r)
			return
		}
		w.Write(make([]byte, 1000*f.perSeg))
		return
	}
	k := msn*f.perSeg + p
	n := f.avail()
	if k > n { // further than the preload hint
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	id := r.Header.Get("X-Salon-Viewer") + " " + r.PathValue("track")
	if f.parts[id] == nil {
		f.parts[id] = make(map[string]int)
	}
	f.parts[id][name]++
	if k >= n {
		f.early++
	}
	f.mu.Unlock()
	if !waitUntil(r, f.existsAt(k)) {
		return
	}
	if f.partDelay != nil {
		if d := f.partDelay(time.Since(f.start)); d > 0 && !waitUntil(r, time.Now().Add(d)) {
			return
		}
	}
	w.Write(make([]byte, 1000))
}

// waitUntil holds a request until t; false when the client went away.
func waitUntil(r *http.Request, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func TestLLViewer_Run(t *testing.T) {
	t.Run("hints and delta updates", func(t *testing.T) {
		f := &fakeLL{step: 100 * time.Millisecond, perSeg: 5, window: 8, holdBack: time.Second}
		srv := newFakeLL(t, f)
		res := runViewers(t, &Viewers{URL: srv.URL + "/ll/index.m3u8", N: 5, Duration: 3 * time.Second,
			Mode: ModeLL, Hints: true, Skip: true})
		t.Logf("%+v", res)
		if res.Stalls != 0 || res.ErrorCount != 0 || res.MissedSegments != 0 || res.ViewersPlaying != 5 {
			t.Errorf("stalls %d, errors %v, missed %d, playing %d; want none, none, none, 5",
				res.Stalls, res.Errors, res.MissedSegments, res.ViewersPlaying)
		}
		if res.Tracks != 1 || res.Parts == 0 || res.HintedParts == 0 || res.Segments != 0 {
			t.Errorf("tracks %d, parts %d (%d hinted), segments %d; want 1 track, parts from hints and no whole segment",
				res.Tracks, res.Parts, res.HintedParts, res.Segments)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.parts) != 5 {
			t.Errorf("server saw %d viewers fetch parts, want 5", len(f.parts))
		}
		for id, got := range f.parts {
			for name, n := range got {
				if n != 1 {
					t.Errorf("viewer %s fetched %s %d times, want once", id, name, n)
				}
			}
		}
		// One plain load per viewer, then only blocking reloads.
		if f.plain != 5 || f.blocking == 0 || f.skips != f.blocking {
			t.Errorf("playlist loads: %d plain, %d blocking, %d with skip; want 5 plain and every blocking one with skip",
				f.plain, f.blocking, f.skips)
		}
		if f.early == 0 {
			t.Error("no part was requested before it existed: the preload hints were not used")
		}
	})

	t.Run("no hints: parts once listed", func(t *testing.T) {
		f := &fakeLL{step: 100 * time.Millisecond, perSeg: 5, window: 8, holdBack: time.Second}
		srv := newFakeLL(t, f)
		res := runViewers(t, &Viewers{URL: srv.URL + "/ll/video/media.m3u8", N: 3, Duration: 2 * time.Second, Mode: ModeLL})
		t.Logf("%+v", res)
		if res.Stalls != 0 || res.ErrorCount != 0 || res.Parts == 0 || res.HintedParts != 0 {
			t.Errorf("stalls %d, errors %v, parts %d (%d hinted); want parts, none hinted, no stall or error",
				res.Stalls, res.Errors, res.Parts, res.HintedParts)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.early != 0 || f.skips != 0 {
			t.Errorf("%d parts requested before they existed, %d skip requests; want none", f.early, f.skips)
		}
	})

	t.Run("audio rendition is a second track", func(t *testing.T) {
		f := &fakeLL{step: 100 * time.Millisecond, perSeg: 5, window: 8, holdBack: time.Second, audio: true}
		srv := newFakeLL(t, f)
		res := runViewers(t, &Viewers{URL: srv.URL + "/ll/index.m3u8", N: 2, Duration: 2 * time.Second, Mode: ModeLL, Hints: true})
		t.Logf("%+v", res)
		if res.Tracks != 2 || res.ViewersPlaying != 2 || res.ErrorCount != 0 {
			t.Errorf("tracks %d, playing %d, errors %v; want 2, 2, none", res.Tracks, res.ViewersPlaying, res.Errors)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.playlists["/ll/video/media.m3u8"] == 0 || f.playlists["/ll/audio/media.m3u8"] == 0 || len(f.parts) != 4 {
			t.Errorf("playlists %v, %d viewer tracks fetched parts; want both playlists and 4", f.playlists, len(f.parts))
		}
	})

	t.Run("parts late", func(t *testing.T) {
		// Healthy for 0.8 s, then each part takes 1.5 s although it holds
		// 0.1 s of media: the buffer runs dry.
		f := &fakeLL{step: 100 * time.Millisecond, perSeg: 5, window: 8, holdBack: 300 * time.Millisecond,
			partDelay: func(elapsed time.Duration) time.Duration {
				if elapsed > 800*time.Millisecond {
					return 1500 * time.Millisecond
				}
				return 0
			}}
		srv := newFakeLL(t, f)
		res := runViewers(t, &Viewers{URL: srv.URL + "/ll/index.m3u8", N: 2, Duration: 4 * time.Second, Mode: ModeLL, Hints: true})
		t.Logf("%+v", res)
		if res.Stalls == 0 || res.StalledViewers != 2 || res.StalledPercent != 100 {
			t.Errorf("stalls %d in %d viewers (%.0f %%), want both stalled", res.Stalls, res.StalledViewers, res.StalledPercent)
		}
		if res.Pass(time.Second) {
			t.Error("a run with stalls passes")
		}
	})

	t.Run("behind the parts: whole segments", func(t *testing.T) {
		// The first part takes 2.5 s: by its next reload the viewer is five
		// segments behind, where no parts are listed any more, so it fetches
		// whole segments.
		f := &fakeLL{step: 100 * time.Millisecond, perSeg: 5, window: 8, holdBack: 300 * time.Millisecond,
			partDelay: func(elapsed time.Duration) time.Duration {
				if elapsed < 500*time.Millisecond {
					return 2500 * time.Millisecond
				}
				return 0
			}}
		srv := newFakeLL(t, f)
		res := runViewers(t, &Viewers{URL: srv.URL + "/ll/index.m3u8", N: 1, Duration: 5 * time.Second, Mode: ModeLL})
		t.Logf("%+v", res)
		if res.Segments == 0 || res.SegmentMs.Count == 0 {
			t.Errorf("%d whole segments, want some", res.Segments)
		}
	})
}
