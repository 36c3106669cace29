package transcode

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/internal/testkit"
)

// testSPS540 is the SPS of a 960x540 H.264 stream (High profile, 30 fps).
var testSPS540 = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0xf0, 0x11, 0x7e, 0xf0, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x8f, 0x18, 0x31, 0x96}

func syntheticSource(t *testing.T, reg *stream.Registry) *stream.Publisher {
	t.Helper()
	p, err := reg.Publish(&stream.Stream{Stage: "main", Source: "test", Tracks: []*stream.Track{
		{Codec: &mp4codecs.H264{SPS: testSPS540, PPS: testPPS}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFrames writes n frames of 30 fps, a keyframe every 30, from frame
// first on; the publisher never blocks, whatever the child does.
func writeFrames(p *stream.Publisher, first, n int) {
	for i := first; i < first+n; i++ {
		d := time.Duration(i) * time.Second / 30
		au := [][]byte{pFrame}
		if i%30 == 0 {
			au = [][]byte{idr}
		}
		p.WriteUnit(&stream.Unit{Track: 0, PTS: d, DTS: d, RandomAccess: i%30 == 0, AU: au})
	}
}

// TestTranscoder_StalledChildRestarted: a child that takes no input and
// puts out no frame is killed after StallTimeout and restarted; the source
// keeps being written meanwhile (the stage's reader drops instead), and
// Close ends a child even while the feed is blocked writing to it.
func TestTranscoder_StalledChildRestarted(t *testing.T) {
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := &stream.Registry{QueueSize: 64, Log: log}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	tc := fakeTranscoder(t, "stall")
	// Long enough for the fake to start and say something on a loaded
	// machine (it is this test binary, built with -race).
	tc.Registry, tc.Warnings, tc.Log, tc.StallTimeout = reg, reg, log, 5*time.Second
	if err := tc.Initialize(); err != nil {
		t.Fatal(err)
	}
	p := syntheticSource(t, reg)
	defer p.Close()
	var first int
	waitFor(t, "a child", func() bool {
		st, _ := tc.State("main")
		first = st.PID
		return st.Running
	})
	frame := 0
	waitFor(t, "the stalled child to be replaced", func() bool {
		writeFrames(p, frame, 30) // returns at once: the publisher never waits
		frame += 30
		time.Sleep(20 * time.Millisecond)
		st, _ := tc.State("main")
		return st.Restarts >= 1 && st.Running && st.PID != first
	})
	st, _ := tc.State("main")
	if !strings.Contains(st.LastExit, "stopped producing") || !strings.Contains(st.LastExit, "fake ffmpeg: stalling") {
		t.Errorf("last exit %q: want the stall and ffmpeg's last line", st.LastExit)
	}
	var dropped int64
	var warned bool
	for _, s := range reg.Stages() {
		dropped += s.DroppedUnits
		for _, w := range s.Warnings {
			warned = warned || w.Code == "transcode.restarting" && strings.Contains(w.Params["Exit"], "stopped producing") && w.Params["Restarts"] != ""
		}
	}
	if !warned {
		t.Errorf("the stage shows no warning about the failing transcoder: %+v", reg.Stages())
	}
	if dropped == 0 {
		t.Errorf("no unit was dropped: the feed should have fallen behind the stalled child")
	}
	// The new child stalls too, with the feed blocked on its pipe: Close
	// must still end it.
	writeFrames(p, frame, 3000)
	done := make(chan struct{})
	go func() { tc.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Close did not return with the feed blocked on a stalled child")
	}
	if strings.Count(logs.String(), "transcode: ffmpeg ended; restarting") < 1 {
		t.Errorf("no restart logged:\n%s", logs.String())
	}
}

// TestTranscoder_SourceEndStopsChild: when the source ends, the child gets
// the end of its input and exits; that is no failure and nothing restarts
// until the source is back.
func TestTranscoder_SourceEndStopsChild(t *testing.T) {
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := &stream.Registry{Log: log}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	tc := fakeTranscoder(t, "drain")
	tc.Registry, tc.Log = reg, log
	if err := tc.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	for run := 1; run <= 2; run++ {
		p := syntheticSource(t, reg)
		waitFor(t, "a running child", func() bool {
			writeFrames(p, 0, 30)
			st, _ := tc.State("main")
			return st.Running
		})
		p.Close()
		waitFor(t, "the child to stop", func() bool {
			st, _ := tc.State("main")
			return !st.Running && !st.Live
		})
		st, _ := tc.State("main")
		if st.Restarts != 0 || st.NextStart != nil {
			t.Fatalf("run %d: state after the source ended: %+v", run, st)
		}
		if !strings.Contains(logs.String(), "ffmpeg stopped, the source ended") {
			t.Fatalf("run %d: no stop logged:\n%s", run, logs.String())
		}
	}
}

// TestTranscoder_SkipsRenditionsTooTall: a rendition as tall as the source
// is not made; with nothing left, no child runs and the state says why.
func TestTranscoder_SkipsRenditionsTooTall(t *testing.T) {
	reg := &stream.Registry{}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	tc := fakeTranscoder(t, "drain")
	tc.Registry = reg
	tc.Renditions = []Rendition{{Name: "720p", Height: 720}, {Name: "540p", Height: 540}}
	if err := tc.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	p := syntheticSource(t, reg)
	defer p.Close()
	waitFor(t, "the note", func() bool {
		st, _ := tc.State("main")
		return st.Note != ""
	})
	st, _ := tc.State("main")
	if st.Running || !strings.Contains(st.Note, "720p, 540p skipped: the source is 540 lines high") {
		t.Fatalf("state %+v", st)
	}
}

func TestTranscoder_Initialize(t *testing.T) {
	reg := &stream.Registry{}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	cases := []struct {
		name    string
		edit    func(*Transcoder)
		wantErr string
	}{
		{"no ffmpeg", func(tc *Transcoder) { tc.FFmpeg = "/nonexistent/ffmpeg" }, "install ffmpeg or drop -transcode"},
		{"unknown encoder", func(tc *Transcoder) { tc.Encoder = "x265" }, "use libx264, h264_vaapi"},
		{"encoder not built in", func(tc *Transcoder) { tc.Encoder = "h264_nvenc" }, "has no h264_nvenc encoder"},
		{"no renditions", func(tc *Transcoder) { tc.Renditions = nil }, "no renditions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := fakeTranscoder(t, "drain")
			tc.Registry = reg
			c.edit(tc)
			err := tc.Initialize()
			if err == nil {
				tc.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Initialize = %v, want %q", err, c.wantErr)
			}
		})
	}
}
