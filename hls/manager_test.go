package hls

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func TestManager_HandleEvent(t *testing.T) {
	requireFFmpeg(t)
	tests := []struct {
		name      string
		args      []string
		codecs    []string // ffprobe codec names, in stream order
		width     int
		bframes   bool
		audioOnly bool
		target    int // with a GOP that does not divide 2s, segments are 2 GOPs
	}{
		{
			name:    "h264 b-frames and aac",
			args:    append(append(videoIn("6"), audioIn()...), "-t", "6", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac"),
			codecs:  []string{"h264", "aac"},
			width:   320,
			bframes: true,
		},
		{
			name: "h265 and opus",
			args: append(append(videoIn("6"), audioIn()...), "-t", "6", "-c:v", "libx265", "-x265-params", "log-level=error:keyint=30:min-keyint=30:scenecut=0:open-gop=0",
				"-c:a", "libopus"),
			codecs: []string{"hevc", "opus"},
			width:  320,
		},
		{
			name:   "h264 video only",
			args:   append(videoIn("6"), "-c:v", "libx264", "-g", "45", "-bf", "0"),
			codecs: []string{"h264"},
			width:  320,
			target: 3,
		},
		{
			name:      "aac audio only",
			args:      append(audioIn(), "-t", "6", "-c:a", "aac"),
			codecs:    []string{"aac"},
			audioOnly: true,
		},
		{
			name:      "opus audio only",
			args:      append(audioIn(), "-t", "6", "-c:a", "libopus"),
			codecs:    []string{"opus"},
			audioOnly: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.target == 0 {
				tt.target = 2
			}
			md := load(t, encode(t, "in.mp4", tt.args...))
			reg := prometheus.NewRegistry()
			var sink sinkRecorder
			m := newTestManager(t, &Manager{Metrics: reg, Sink: &sink})
			publish(m, "main", t0, md, nil)

			dir, pl := dump(t, m, "main")
			if len(pl.Segments) < 2 {
				t.Fatalf("only %d segments", len(pl.Segments))
			}
			if !pl.IndependentSegments || pl.Version != 7 || pl.TargetDuration != tt.target {
				t.Errorf("playlist header: version %d, target %d, independent %v", pl.Version, pl.TargetDuration, pl.IndependentSegments)
			}
			r := probe(t, filepath.Join(dir, PlaylistName))
			var got []string
			for _, s := range r.Streams {
				got = append(got, s.CodecName)
				if s.CodecType == "video" && s.Width != tt.width {
					t.Errorf("width %d, want %d", s.Width, tt.width)
				}
			}
			if !slices.Equal(got, tt.codecs) {
				t.Errorf("codecs %v, want %v", got, tt.codecs)
			}
			dur, _ := strconv.ParseFloat(r.Format.Duration, 64)
			if math.Abs(dur-6) > 0.3 {
				t.Errorf("duration %.3fs, want about 6s", dur)
			}
			if math.Abs(pl.Duration()-6) > 0.3 {
				t.Errorf("sum of EXTINF %.3fs, want about 6s", pl.Duration())
			}
			if errs := decodeErrors(t, filepath.Join(dir, PlaylistName)); errs != "" {
				t.Errorf("ffmpeg decode errors:\n%s", errs)
			}

			// Segments start with a keyframe; B-frames keep their composition offsets.
			ptsOffsets := 0
			for _, uri := range pl.URIs() {
				for _, part := range segmentParts(t, get(t, m, "main", uri)) {
					for _, pt := range part.Tracks {
						if pt.ID == 1 && !tt.audioOnly && pt.Samples[0].IsNonSyncSample {
							t.Errorf("segment %s does not start with a keyframe", uri)
						}
						for _, s := range pt.Samples {
							if s.PTSOffset != 0 {
								ptsOffsets++
							}
						}
					}
				}
			}
			if tt.bframes && ptsOffsets == 0 {
				t.Error("no sample has PTS != DTS: B-frame timing lost")
			}

			// The first segment is cut early so that the first playlist comes fast.
			if !tt.audioOnly && pl.Segments[0].Duration > 1.6 {
				t.Errorf("first segment lasts %.3fs, want one GOP", pl.Segments[0].Duration)
			}
			// Program date time follows Received.
			if !pl.Segments[0].ProgramDateTime.Equal(t0.Add(md.firstKeyDTS())) {
				t.Errorf("first PROGRAM-DATE-TIME %s, want %s", pl.Segments[0].ProgramDateTime, t0.Add(md.firstKeyDTS()))
			}

			n := len(sink.segments())
			if n != len(pl.Segments) {
				t.Errorf("sink got %d segments, playlist lists %d", n, len(pl.Segments))
			}
			metrics := gather(t, reg)
			if v := metrics[`salon_segments_total{stage="main"}`]; int(v) != n {
				t.Errorf("salon_segments_total = %v, want %d", v, n)
			}
			if v := metrics[`salon_segment_bytes_total{stage="main"}`]; v <= 0 {
				t.Errorf("salon_segment_bytes_total = %v", v)
			}
			if v := metrics["salon_segment_publish_latency_seconds_count"]; int(v) != n {
				t.Errorf("latency observations = %v, want %d", v, n)
			}
			st, ok := m.Stats("main")
			if !ok || st.Live || st.Segments != uint64(n) || st.Run != "20260301T100000Z" {
				t.Errorf("Stats = %+v, %v", st, ok)
			}
		})
	}
}

// firstKeyDTS is the DTS at which the segmenter starts.
func (md *media) firstKeyDTS() time.Duration {
	video := slices.ContainsFunc(md.tracks, func(t *stream.Track) bool { return t.IsVideo() })
	for _, u := range md.units {
		if !video || (md.tracks[u.Track].IsVideo() && u.RandomAccess) {
			return u.DTS
		}
	}
	return 0
}

type sinkRecorder struct {
	mu    sync.Mutex
	segs  []*Segment
	ended []string // stage/run
}

func (s *sinkRecorder) SegmentReady(seg *Segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.segs = append(s.segs, seg)
}

func (s *sinkRecorder) RunEnded(stage, rendition, run string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rendition != "" {
		stage += "/" + rendition
	}
	s.ended = append(s.ended, stage+"/"+run)
}

func (s *sinkRecorder) segments() []*Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.segs)
}

type warningRecorder struct {
	mu   sync.Mutex
	log  []string
	last map[string]string
}

// SetRenditionWarning records w as its code and sorted parameters
// ("hls.gop_long Seconds=3.0 Target=2s"), "" when cleared.
func (w *warningRecorder) SetRenditionWarning(stage, rendition, key string, sw stream.Warning) {
	msg := sw.Code
	for _, k := range slices.Sorted(maps.Keys(sw.Params)) {
		msg += " " + k + "=" + sw.Params[k]
	}
	if rendition != "" {
		stage += "/" + rendition
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		w.last = map[string]string{}
	}
	w.log = append(w.log, stage+"/"+key+"="+msg)
	w.last[stage+"/"+key] = msg
}

// countingHandler counts log records at or above Warn that contain a text.
type countingHandler struct {
	mu    sync.Mutex
	warns []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		h.warns = append(h.warns, r.Message)
		h.mu.Unlock()
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func TestManager_runID(t *testing.T) {
	st := newStage(newTestManager(t, &Manager{}), newGroup(nil, "main"), "")
	for _, tc := range []struct {
		start time.Time
		want  string
	}{
		{t0, "20260301T100000Z"},
		{t0.Add(300 * time.Millisecond), "20260301T100000Z-2"},
		{t0.Add(900 * time.Millisecond).In(time.FixedZone("CET", 3600)), "20260301T100000Z-3"},
		{t0.Add(time.Second), "20260301T100001Z"},
		{t0, "20260301T100000Z"},
	} {
		if got := st.runID(tc.start); got != tc.want {
			t.Errorf("runID(%s) = %s, want %s", tc.start, got, tc.want)
		}
	}
}

func TestManager_Initialize(t *testing.T) {
	tests := []struct {
		name            string
		segment, window time.Duration
		wantErr         bool
	}{
		{"defaults", 0, 0, false},
		{"short segments", time.Millisecond, 0, true},
		{"window below segment", 4 * time.Second, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manager{SegmentDuration: tt.segment, Window: tt.window}
			err := m.Initialize()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Initialize() = %v", err)
			}
		})
	}
	reg := prometheus.NewRegistry()
	a, b := &Manager{Metrics: reg}, &Manager{Metrics: reg}
	if err := a.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := b.Initialize(); err == nil {
		t.Error("two Managers registered the same metrics")
	}
}

// gather returns the registry's counters and histogram counts by name{labels}.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+"=\""+l.GetValue()+"\"")
				}
				name += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[name+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestManager_registry runs the segmenter as cmd wires it: an inline reader
// of a real stream.Registry (HandleEvent runs on the publisher's goroutine),
// which also shows its warnings (SetRenditionWarning takes the registry's
// lock from inside HandleEvent: it must not be held there).
func TestManager_registry(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "av.mp4", append(append(videoIn("5"), audioIn()...), "-t", "5", "-c:v", "libx264", "-g", "90", "-c:a", "aac")...))
	reg := &stream.Registry{QueueSize: 10000}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	m := newTestManager(t, &Manager{Warnings: reg})
	unsubscribe := reg.SubscribeInline("hls", m.HandleEvent)

	pub, err := reg.Publish(&stream.Stream{Stage: "main", Tracks: md.tracks, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range md.units {
		c := *u
		pub.WriteUnit(&c)
	}
	// The 3s GOP is longer than the 2s target: the stage shows a warning.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := reg.Stages()
		if len(st) == 1 && len(st[0].Warnings) == 1 && st[0].Warnings[0].Equal(stream.Warn("hls.gop_long", "Seconds", "3.0", "Target", "2s")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no gop warning on the stage: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pub.Close()
	unsubscribe() // waits until the reader has handled every event

	if w := reg.Stages()[0].Warnings; len(w) != 0 {
		t.Errorf("warnings after the publish ended: %v", w)
	}
	dir, pl := dump(t, m, "main")
	if math.Abs(pl.Duration()-5) > 0.3 {
		t.Errorf("playlist lasts %.3fs, want about 5s", pl.Duration())
	}
	if errs := decodeErrors(t, filepath.Join(dir, PlaylistName)); errs != "" {
		t.Errorf("ffmpeg decode errors:\n%s", errs)
	}
}
