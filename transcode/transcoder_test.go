package transcode

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/internal/testkit"
)

const testKey = "transcode-key"

// waitLimit bounds every wait: generous, so that a loaded machine only makes
// the test slower.
const waitLimit = 90 * time.Second

// stageRun is one publish on a stage as a reader saw it.
type stageRun struct {
	start     *stream.Stream
	keyframes []time.Duration // video keyframes' PTS
	units     int
	ended     bool
}

// stageRecorder keeps the publishes of one stage.
type stageRecorder struct {
	mu   sync.Mutex
	runs []*stageRun
}

func recordStage(t *testing.T, reg *stream.Registry, stage, rendition string) *stageRecorder {
	r := &stageRecorder{}
	unsub := reg.SubscribePath("test", stage, rendition, func(ev stream.Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case ev.Start != nil:
			r.runs = append(r.runs, &stageRun{start: ev.Start})
		case len(r.runs) == 0:
		case ev.End:
			r.runs[len(r.runs)-1].ended = true
		case ev.Unit != nil:
			run := r.runs[len(r.runs)-1]
			run.units++
			if ev.Unit.RandomAccess && run.start.Tracks[ev.Unit.Track].IsVideo() {
				run.keyframes = append(run.keyframes, ev.Unit.PTS)
			}
		}
	})
	t.Cleanup(unsub)
	return r
}

func (r *stageRecorder) snapshot() []stageRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]stageRun, len(r.runs))
	for i, run := range r.runs {
		out[i] = *run
		out[i].keyframes = append([]time.Duration(nil), run.keyframes...)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newRegistry(t *testing.T, log *slog.Logger) *stream.Registry {
	reg := &stream.Registry{Log: log}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return reg
}

func newRTSP(t *testing.T, reg *stream.Registry, log *slog.Logger) *ingest.RTSPServer {
	s := &ingest.RTSPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// aligned tells whether every rendition keyframe falls on a source keyframe:
// the rendition's clock starts at its own publish, so its keyframes are
// compared by their distance from its first one, which must itself be one
// of the source's (the feed starts at a source keyframe). It returns the
// source keyframe the rendition started at, or -1.
func aligned(src, rend []time.Duration) int {
	const tol = time.Millisecond
	has := func(d time.Duration) bool {
		for _, s := range src {
			if s > d-tol && s < d+tol {
				return true
			}
		}
		return false
	}
	for j, s0 := range src {
		ok := true
		for _, r := range rend {
			if !has(s0 + r - rend[0]) {
				ok = false
				break
			}
		}
		if ok {
			return j
		}
	}
	return -1
}

func spsSize(t *testing.T, s *stream.Stream) (int, int) {
	t.Helper()
	for _, tr := range s.Tracks {
		if c, ok := tr.Codec.(*mp4codecs.H264); ok {
			var sps h264.SPS
			if err := sps.Unmarshal(c.SPS); err != nil {
				t.Fatalf("rendition SPS: %v", err)
			}
			return sps.Width(), sps.Height()
		}
	}
	t.Fatalf("the rendition has no H.264 track: %v", s.Tracks)
	return 0, 0
}

// TestTranscoder_RenditionAlignedAndRestarts: a 540p source published over
// RTSP gets a 480p rendition, published by the ffmpeg child back to the same
// salon RTSP server at live/main/480p, whose keyframes fall exactly on the
// source's (the source's keyframes are irregular, so an encoder's own GOP
// would miss them). The child is fed the source only, never its own
// rendition. Killing the child brings it back after the back-off while the
// source never stops.
func TestTranscoder_RenditionAlignedAndRestarts(t *testing.T) {
	testkit.NeedTool(t, "ffmpeg")
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	reg := newRegistry(t, log)
	rtsp := newRTSP(t, reg, log)
	src := recordStage(t, reg, "main", "")
	rend := recordStage(t, reg, "main", "480p")

	rs, err := ParseRenditions("480p")
	if err != nil {
		t.Fatal(err)
	}
	tc := &Transcoder{
		Renditions: rs,
		Registry:   reg,
		Target: func(stage, r string) string {
			return "rtsp://" + rtsp.Addr() + "/live/" + stage + "/" + r + "?key=" + testKey
		},
		MinBackoff: 500 * time.Millisecond,
		Log:        log,
	}
	if err := tc.Initialize(); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			tc.Close()
		}
	})

	// Keyframes at 0, 1.7, 2.6, 4.3, 5.2 s…: 1.7 and 0.9 s apart in turn.
	pub := testkit.StartFFmpeg(t, "-re", "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "1000", "-sc_threshold", "0",
		"-force_key_frames", "expr:gte(t,n_forced*1.3+0.4*mod(n_forced,2))",
		"-c:a", "aac", "-b:a", "64k",
		"-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+rtsp.Addr()+"/live/main?key="+testKey)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("source ffmpeg: %s", pub.Stderr.String())
		}
	})

	// 1. The rendition: H.264, 480 lines, aspect kept, keyframes on the
	// source's.
	waitFor(t, "5 keyframes of the 480p rendition", func() bool {
		r := rend.snapshot()
		return len(r) == 1 && len(r[0].keyframes) >= 5
	})
	r1 := rend.snapshot()[0]
	if w, h := spsSize(t, r1.start); h != 480 || (w != 852 && w != 854) {
		t.Errorf("rendition is %dx%d, want 854x480 (540p's aspect)", w, h)
	}
	if len(r1.start.Tracks) != 2 {
		t.Errorf("rendition tracks %v, want video and the copied audio", r1.start.Tracks)
	}
	s := src.snapshot()
	if len(s) != 1 {
		t.Fatalf("source runs: %d", len(s))
	}
	j := aligned(s[0].keyframes, r1.keyframes)
	if j < 0 {
		t.Fatalf("rendition keyframes %v do not fall on the source's %v", r1.keyframes, s[0].keyframes)
	}
	t.Logf("source keyframes %v; the rendition's %v start at the source's #%d", s[0].keyframes, r1.keyframes, j)
	st, ok := tc.State("main")
	if !ok || !st.Running || st.PID == 0 || st.Restarts != 0 || len(st.Renditions) != 1 || st.Renditions[0] != "480p" {
		t.Fatalf("state %+v", st)
	}

	// 2. Kill the child: it comes back, the source plays on.
	firstPID := st.PID
	srcUnits := s[0].units
	if err := syscall.Kill(firstPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new ffmpeg child", func() bool {
		st, _ = tc.State("main")
		return st.Running && st.PID != firstPID
	})
	if n := len(tc.States()); n != 1 {
		t.Errorf("%d stages transcoded, want main only (never its renditions)", n)
	}
	if st.Restarts != 1 || !strings.Contains(st.LastExit, "killed") {
		t.Errorf("state after the kill: %+v, want 1 restart and the signal as the last exit", st)
	}
	waitFor(t, "3 keyframes of the rendition's second run", func() bool {
		r := rend.snapshot()
		return len(r) == 2 && r[0].ended && len(r[1].keyframes) >= 3
	})
	s = src.snapshot()
	if len(s) != 1 || s[0].ended || s[0].units <= srcUnits {
		t.Fatalf("the source stopped while the child restarted: %d runs, ended %v, units %d then %d", len(s), s[0].ended, srcUnits, s[0].units)
	}
	r2 := rend.snapshot()[1]
	if j := aligned(s[0].keyframes, r2.keyframes); j < 0 {
		t.Fatalf("after the restart, rendition keyframes %v do not fall on the source's %v", r2.keyframes, s[0].keyframes)
	}
	if n := strings.Count(logs.String(), "transcode: ffmpeg ended; restarting"); n != 1 {
		t.Errorf("%d restart log lines, want 1", n)
	}
	if !strings.Contains(logs.String(), "pid="+strconv.Itoa(firstPID)) {
		t.Errorf("the restart line does not name the pid %d", firstPID)
	}

	// 3. Shutdown stops the child and waits for it: no zombie, no orphan.
	secondPID := st.PID
	tc.Close()
	closed = true
	for _, pid := range []int{firstPID, secondPID} {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// The pid may have been reused by an unrelated process; ours
			// would still have this test as its parent.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
				t.Errorf("ffmpeg child %d is still there after Close (state %s)", pid, f[0])
			}
		}
	}
	waitFor(t, "the rendition's publish to end", func() bool {
		r := rend.snapshot()
		return r[len(r)-1].ended
	})
	if st, _ := tc.State("main"); st.Running {
		t.Errorf("state after Close: %+v", st)
	}
}
