package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/internal/testkit"
)

const testKey = "s3cret-key"

// waitLimit bounds every wait in these tests: generous, so that a slow
// machine only makes tests slower, never failing.
const waitLimit = 60 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lockedBuffer collects log output for assertions.
type lockedBuffer = testkit.LogBuffer

// teeLogger logs to the test output and to the returned buffer.
func teeLogger(t *testing.T) (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	w := io.MultiWriter(t.Output(), buf)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install ffmpeg / gstreamer1.0-tools): %v", name, err)
	}
	return p
}

// recorder subscribes to a real registry and keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []stream.Event
}

func newTestRegistry(t *testing.T) (*stream.Registry, *recorder) {
	t.Helper()
	reg := &stream.Registry{Log: testLogger(t), QueueSize: 1 << 16}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	unsub := reg.Subscribe("test", func(ev stream.Event) {
		rec.mu.Lock()
		rec.events = append(rec.events, ev)
		rec.mu.Unlock()
	})
	t.Cleanup(func() {
		unsub()
		reg.Close()
	})
	return reg, rec
}

func (r *recorder) snapshot() []stream.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stream.Event(nil), r.events...)
}

// waitFor polls until cond holds on the events so far.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]stream.Event) bool) []stream.Event {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		evs := r.snapshot()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; events: %s", what, summarize(evs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(evs []stream.Event, pred func(stream.Event) bool) int {
	n := 0
	for _, ev := range evs {
		if pred(ev) {
			n++
		}
	}
	return n
}

func isStart(ev stream.Event) bool { return ev.Start != nil }
func isEnd(ev stream.Event) bool   { return ev.End }

func summarize(evs []stream.Event) string {
	starts, ends, units := 0, 0, 0
	for _, ev := range evs {
		switch {
		case ev.Start != nil:
			starts++
		case ev.End:
			ends++
		default:
			units++
		}
	}
	return fmt.Sprintf("%d starts, %d units, %d ends", starts, units, ends)
}

// publishRun is the part of the events that belongs to the n-th publish.
type publishRun struct {
	start *stream.Stream
	units []*stream.Unit
	ended bool
}

func runs(evs []stream.Event) []*publishRun {
	var out []*publishRun
	var cur *publishRun
	for _, ev := range evs {
		switch {
		case ev.Start != nil:
			cur = &publishRun{start: ev.Start}
			out = append(out, cur)
		case ev.End:
			if cur != nil {
				cur.ended = true
				cur = nil
			}
		case cur != nil:
			cur.units = append(cur.units, ev.Unit)
		}
	}
	return out
}

// checkRun asserts the shape of a finished publish: the codecs, a keyframe
// first on video, non-decreasing DTS per track and units on every track.
func checkRun(t *testing.T, run *publishRun, stage string, codecs ...string) {
	t.Helper()
	if run.start.Stage != stage {
		t.Errorf("stage = %q, want %q", run.start.Stage, stage)
	}
	var got []string
	for _, tr := range run.start.Tracks {
		got = append(got, tr.CodecName())
	}
	// Publishers choose the track order (GStreamer puts audio first).
	if fmt.Sprint(slices.Sorted(slices.Values(got))) != fmt.Sprint(slices.Sorted(slices.Values(codecs))) {
		t.Fatalf("tracks = %v, want %v", got, codecs)
	}
	codecs = got
	perTrack := make([]int, len(codecs))
	keyframes := make([]int, len(codecs))
	last := make([]time.Duration, len(codecs))
	for _, u := range run.units {
		if u.Track < 0 || u.Track >= len(codecs) {
			t.Fatalf("unit for track %d of %d", u.Track, len(codecs))
		}
		tr := run.start.Tracks[u.Track]
		if perTrack[u.Track] == 0 && tr.IsVideo() && !u.RandomAccess {
			t.Errorf("track %d (%s): first unit is not a keyframe", u.Track, tr.CodecName())
		}
		if perTrack[u.Track] > 0 && u.DTS < last[u.Track] {
			t.Errorf("track %d (%s): DTS went back from %v to %v", u.Track, tr.CodecName(), last[u.Track], u.DTS)
		}
		if u.PTS < u.DTS {
			t.Errorf("track %d (%s): PTS %v < DTS %v", u.Track, tr.CodecName(), u.PTS, u.DTS)
		}
		if u.Received.IsZero() || u.Size() == 0 {
			t.Errorf("track %d: unit without arrival time or payload", u.Track)
		}
		if !tr.IsVideo() && len(u.AU) != 1 {
			t.Errorf("audio unit with %d frames, want 1", len(u.AU))
		}
		last[u.Track] = u.DTS
		perTrack[u.Track]++
		if u.RandomAccess {
			keyframes[u.Track]++
		}
	}
	for i, n := range perTrack {
		if n == 0 {
			t.Errorf("track %d (%s): no units", i, codecs[i])
		}
		if run.start.Tracks[i].IsVideo() && keyframes[i] == 0 {
			t.Errorf("track %d (%s): no keyframes", i, codecs[i])
		}
	}
	t.Logf("publish %s: tracks %v, units per track %v, keyframes %v", stage, codecs, perTrack, keyframes)
}

// ffmpegCmd runs ffmpeg with args and returns when it exits.
type ffmpegCmd struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func startFFmpeg(t *testing.T, args ...string) *ffmpegCmd {
	t.Helper()
	bin := needTool(t, "ffmpeg")
	ctx, cancel := context.WithCancel(context.Background())
	f := &ffmpegCmd{done: make(chan struct{})}
	f.cmd = exec.CommandContext(ctx, bin, append([]string{"-hide_banner", "-nostdin", "-loglevel", "warning"}, args...)...)
	f.cmd.Stderr = &f.stderr
	if err := f.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	return f
}

func (f *ffmpegCmd) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-f.done:
		return f.err
	case <-time.After(waitLimit):
		t.Fatalf("ffmpeg did not exit; stderr:\n%s", f.stderr.String())
		return nil
	}
}

// stop ends ffmpeg as a camera loses power would: abruptly.
func (f *ffmpegCmd) kill() {
	_ = f.cmd.Process.Kill()
	<-f.done
}

// testInputs is a small generated source: video and/or audio, n seconds.
func testInputs(video, audio bool, audioRate int) []string {
	var a []string
	a = append(a, "-re")
	if video {
		a = append(a, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25")
	}
	if audio {
		a = append(a, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d", audioRate))
	}
	return a
}

// x264 encodes small, fast H.264 with a keyframe every second.
func x264() []string {
	return []string{"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p"}
}

func countLines(s, substr string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// gstAttempts bounds runGst's tries; gstAttemptWait bounds one try (a
// publish of a few seconds, on a loaded machine).
const (
	gstAttempts    = 3
	gstAttemptWait = 30 * time.Second
)

// runGst runs gst-launch-1.0 with args(stage) and returns the publish it
// made, once salon has ended it (nil when it made none), and gst-launch's
// output and error. The stage name of attempt n>1 is "{stage}-n".
//
// GStreamer's rtspclientsink sometimes stalls right after RECORD on a loaded
// machine: it sends no media, salon frees the stage after its media timeout
// and gst-launch waits forever. That is GStreamer's failure, not salon's, so
// such an attempt (no units received) is logged and tried again.
func runGst(t *testing.T, rec *recorder, stage string, args func(stage string) []string) (run *publishRun, out []byte, err error) {
	t.Helper()
	gst := needTool(t, "gst-launch-1.0")
	for attempt := 1; ; attempt++ {
		name := stage
		if attempt > 1 {
			name = fmt.Sprintf("%s-%d", stage, attempt)
		}
		before := len(runs(rec.snapshot()))
		ctx, cancel := context.WithTimeout(context.Background(), gstAttemptWait)
		out, err = exec.CommandContext(ctx, gst, args(name)...).CombinedOutput()
		cancel()
		run = nil
		if rs := runs(rec.snapshot()); len(rs) > before {
			evs := rec.waitFor(t, "the end of the publish", func(evs []stream.Event) bool { return runs(evs)[before].ended })
			run = runs(evs)[before]
		}
		stalled := err != nil && run != nil && len(run.units) == 0
		if !stalled || attempt == gstAttempts {
			return run, out, err
		}
		t.Logf("gst-launch-1.0 attempt %d sent no media (%v), trying again:\n%s", attempt, err, out)
	}
}
