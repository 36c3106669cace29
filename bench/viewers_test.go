package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLive serves a live fMP4-style playlist that gains one tiny segment every
// step, keeping the last window segments. It records who fetched what.
type fakeLive struct {
	step      time.Duration
	window    int
	target    int                                       // EXT-X-TARGETDURATION, seconds
	segStatus int                                       // status of segment responses (0: 200)
	segDelay  func(elapsed time.Duration) time.Duration // delay of a segment response (nil: none)
	segURI    func(seq int) string                      // URI of segment seq in the playlist (nil: "{seq}.m4s")

	start time.Time
	mu    sync.Mutex
	segs  map[string]map[int]int // viewer → seq → fetches
	inits map[string]int         // viewer → init fetches
}

func newFakeLive(t *testing.T, f *fakeLive) *httptest.Server {
	t.Helper()
	f.start = time.Now()
	f.segs = make(map[string]map[int]int)
	f.inits = make(map[string]int)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live/test/index.m3u8", f.playlist)
	mux.HandleFunc("GET /live/test/init.mp4", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.inits[r.Header.Get("X-Salon-Viewer")]++
		f.mu.Unlock()
		w.Write(make([]byte, 200))
	})
	mux.HandleFunc("GET /live/test/{seg}", f.segment)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// last is the newest segment's sequence number; the playlist starts full.
func (f *fakeLive) last() int {
	return f.window - 1 + int(time.Since(f.start)/f.step)
}

func (f *fakeLive) playlist(w http.ResponseWriter, r *http.Request) {
	last := f.last()
	first := last - f.window + 1
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-MAP:URI=\"init.mp4\"\n", f.target, first)
	for seq := first; seq <= last; seq++ {
		uri := strconv.Itoa(seq) + ".m4s"
		if f.segURI != nil {
			uri = f.segURI(seq)
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", f.step.Seconds(), uri)
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Write([]byte(b.String()))
}

func (f *fakeLive) segment(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.Atoi(strings.TrimSuffix(r.PathValue("seg"), ".m4s"))
	if err != nil || seq > f.last() {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	id := r.Header.Get("X-Salon-Viewer")
	if f.segs[id] == nil {
		f.segs[id] = make(map[int]int)
	}
	f.segs[id][seq]++
	f.mu.Unlock()
	if f.segDelay != nil {
		if d := f.segDelay(time.Since(f.start)); d > 0 {
			timer := time.NewTimer(d)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		}
	}
	if f.segStatus != 0 {
		http.Error(w, "nope", f.segStatus)
		return
	}
	w.Write(make([]byte, 1000))
}

func runViewers(t *testing.T, v *Viewers) *Result {
	t.Helper()
	if err := v.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	res, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestViewers_Run(t *testing.T) {
	t.Run("healthy live stream", func(t *testing.T) {
		f := &fakeLive{step: 200 * time.Millisecond, window: 30, target: 1}
		srv := newFakeLive(t, f)
		res := runViewers(t, &Viewers{
			URL:      srv.URL + "/live/test/index.m3u8",
			N:        20,
			Ramp:     500 * time.Millisecond,
			Duration: 3 * time.Second,
			PID:      os.Getpid(),
		})
		t.Logf("%+v", res)
		if res.Stalls != 0 || res.ErrorCount != 0 || res.MissedSegments != 0 {
			t.Errorf("stalls %d, errors %v, missed %d; want none", res.Stalls, res.Errors, res.MissedSegments)
		}
		if res.ViewersPlaying != 20 {
			t.Errorf("%d viewers playing, want 20", res.ViewersPlaying)
		}
		if res.Salon == nil || res.Salon.RSSBytes == 0 || res.Tool.PeakRSSBytes == 0 {
			t.Errorf("process usage not sampled: salon %+v, tool %+v", res.Salon, res.Tool)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.segs) != 20 {
			t.Errorf("server saw %d distinct viewers, want 20", len(f.segs))
		}
		var served int64
		for id, seqs := range f.segs {
			if f.inits[id] != 1 {
				t.Errorf("viewer %s fetched init %d times, want once", id, f.inits[id])
			}
			keys := slices.Sorted(func(yield func(int) bool) {
				for k := range seqs {
					if !yield(k) {
						return
					}
				}
			})
			for _, seq := range keys {
				if seqs[seq] != 1 {
					t.Errorf("viewer %s fetched segment %d %d times, want once", id, seq, seqs[seq])
				}
			}
			if len(keys) < 2 || keys[len(keys)-1]-keys[0]+1 != len(keys) {
				t.Errorf("viewer %s fetched segments %v, want a contiguous run", id, keys)
			}
			served += int64(len(keys))
		}
		// The run may end with a request in flight that the server counted.
		if res.Segments > served || res.Segments < served-20 {
			t.Errorf("tool counted %d segments, server served %d", res.Segments, served)
		}
	})

	t.Run("segments late", func(t *testing.T) {
		// Healthy for the first half second, then every segment takes 3 s
		// although it holds 0.2 s of media: the buffer must run dry.
		f := &fakeLive{step: 200 * time.Millisecond, window: 30, target: 1,
			segDelay: func(elapsed time.Duration) time.Duration {
				if elapsed > 500*time.Millisecond {
					return 3 * time.Second
				}
				return 0
			}}
		srv := newFakeLive(t, f)
		res := runViewers(t, &Viewers{URL: srv.URL + "/live/test/index.m3u8", N: 3, Duration: 5 * time.Second})
		t.Logf("%+v", res)
		if res.Stalls == 0 || res.StalledViewers == 0 || res.StallSeconds == 0 {
			t.Errorf("stalls %d in %d viewers (%.1f s), want some", res.Stalls, res.StalledViewers, res.StallSeconds)
		}
	})
}

func TestViewers_RunErrors(t *testing.T) {
	tests := []struct {
		name string
		path string
		live func(*fakeLive)
		kind string
	}{
		{"segments 404", "/live/test/index.m3u8", func(f *fakeLive) { f.segStatus = http.StatusNotFound }, "http 404"},
		{"playlist 404", "/live/nope/index.m3u8", func(*fakeLive) {}, "http 404"},
		{"remote segment URI", "/live/test/index.m3u8",
			func(f *fakeLive) {
				f.segURI = func(seq int) string { return fmt.Sprintf("http://192.0.2.1/%d.m4s", seq) }
			},
			"remote uri refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLive{step: 200 * time.Millisecond, window: 30, target: 1}
			tt.live(f)
			srv := newFakeLive(t, f)
			res := runViewers(t, &Viewers{URL: srv.URL + tt.path, N: 3, Duration: 1500 * time.Millisecond})
			t.Logf("%+v", res)
			if res.Errors[tt.kind] == 0 || res.ErrorCount == 0 {
				t.Errorf("errors %v, want some %q", res.Errors, tt.kind)
			}
			if res.Segments != 0 || res.ViewersPlaying != 0 {
				t.Errorf("%d segments, %d viewers playing; want none", res.Segments, res.ViewersPlaying)
			}
			if res.Pass(time.Second) {
				t.Error("a run with errors passes")
			}
		})
	}
}

func TestViewers_Initialize(t *testing.T) {
	tests := []struct {
		name    string
		v       Viewers
		wantErr string
	}{
		{"loopback v4", Viewers{URL: "http://127.0.0.1:8080/live/main/index.m3u8", N: 1}, ""},
		{"loopback v6", Viewers{URL: "http://[::1]:8080/live/main/index.m3u8", N: 1}, ""},
		{"localhost", Viewers{URL: "http://localhost:8080/live/main/index.m3u8", N: 1}, ""},
		{"remote refused", Viewers{URL: "http://example.com/live/main/index.m3u8", N: 1}, "-allow-remote"},
		{"remote allowed", Viewers{URL: "https://example.com/live/main/index.m3u8", N: 1, AllowRemote: true}, ""},
		{"no url", Viewers{N: 1}, "-url is required"},
		{"bad scheme", Viewers{URL: "rtsp://127.0.0.1/live/main", N: 1}, "http://"},
		{"no viewers", Viewers{URL: "http://127.0.0.1/x.m3u8"}, "-n"},
		{"ramp too long", Viewers{URL: "http://127.0.0.1/x.m3u8", N: 1, Ramp: time.Minute, Duration: time.Second}, "-ramp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Initialize()
			tt.v.Close()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestRamp_Run(t *testing.T) {
	f := &fakeLive{step: 200 * time.Millisecond, window: 30, target: 1}
	srv := newFakeLive(t, f)
	r := &Ramp{
		Base:  Viewers{URL: srv.URL + "/live/test/index.m3u8", Duration: time.Second},
		Steps: []int{2, 4},
		Pause: -1,
	}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	WriteRampHeader(&rows)
	results, err := r.Run(context.Background(), func(res *Result) { WriteRampRow(&rows, res, r.MaxP99) })
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rows.String())
	if len(results) != 2 || results[0].Viewers != 2 || results[1].Viewers != 4 {
		t.Fatalf("results %+v, want steps 2 and 4", results)
	}
	if got := strings.Count(rows.String(), "\n"); got != 3 {
		t.Errorf("%d table lines, want header + 2", got)
	}
}
