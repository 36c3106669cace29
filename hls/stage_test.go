package hls

import (
	"bytes"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/ingest/stream"
)

func TestManager_longGOP(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "gop.mp4", append(videoIn("12"), "-c:v", "libx264", "-g", "120", "-keyint_min", "120", "-sc_threshold", "0")...))
	var warns warningRecorder
	logs := &countingHandler{}
	m := newTestManager(t, &Manager{Warnings: &warns, Log: slog.New(logs)})

	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: md.tracks, Start: t0}})
	for _, u := range md.units {
		m.HandleEvent(stream.Event{Stage: "main", Unit: u})
	}
	warns.mu.Lock()
	msg := warns.last["main/gop"]
	warns.mu.Unlock()
	if msg != "hls.gop_long Seconds=4.0 Target=2s" {
		t.Errorf("gop warning = %q while live", msg)
	}
	m.HandleEvent(stream.Event{Stage: "main", End: true})

	warns.mu.Lock()
	if msg := warns.last["main/gop"]; msg != "" {
		t.Errorf("gop warning %q not cleared at publish end", msg)
	}
	warns.mu.Unlock()
	if len(logs.warns) != 1 {
		t.Errorf("warning log lines: %q, want exactly one", logs.warns)
	}

	dir, pl := dump(t, m, "main")
	if pl.TargetDuration != 4 {
		t.Errorf("target duration %d, want 4 (one GOP)", pl.TargetDuration)
	}
	for _, s := range pl.Segments {
		if math.Abs(s.Duration-4) > 0.05 {
			t.Errorf("segment %s lasts %.3fs, want one 4s GOP", s.URI, s.Duration)
		}
	}
	if errs := decodeErrors(t, filepath.Join(dir, PlaylistName)); errs != "" {
		t.Errorf("ffmpeg decode errors:\n%s", errs)
	}
}

// TestManager_twoPublishes: a publisher leaves and comes back. With the same
// codec parameters the playlist goes on with the same init segment and no
// EXT-X-DISCONTINUITY, which stops VLC for good (issue 13, finding 17); with
// new ones it gets a new init segment after a discontinuity. Either way the
// decode timeline continues and segment numbers only grow.
func TestManager_twoPublishes(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "av.mp4", append(append(videoIn("4"), audioIn()...), "-t", "4", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac")...))
	small := load(t, encode(t, "av-small.mp4", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-t", "4",
		audioIn()[0], audioIn()[1], audioIn()[2], audioIn()[3], "-t", "4", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac"))
	// In-band parameter sets, as publishers send them: ffmpeg's HLS reader
	// keeps the first init segment's and needs them to follow a change.
	withParams(md)
	withParams(small)
	cases := []struct {
		name     string
		second   *media
		maps     []string
		wantDisc bool
	}{
		{"same codec parameters", md, []string{"init-0.mp4"}, false},
		{"new codec parameters", small, []string{"init-0.mp4", "init-1.mp4"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sink sinkRecorder
			m := newTestManager(t, &Manager{Sink: &sink})
			publish(m, "main", t0, md, nil)
			publish(m, "main", t0.Add(md.duration()+time.Second), tc.second, nil)

			dir, pl := dump(t, m, "main")
			if got := pl.MapURIs(); !slices.Equal(got, tc.maps) {
				t.Errorf("maps %v, want %v", got, tc.maps)
			}
			segs := sink.segments()
			var discs []uint64
			runs := map[string]bool{}
			firstOfRun2 := uint64(0)
			for i, s := range segs {
				runs[s.Run] = true
				if s.Discontinuity {
					discs = append(discs, s.Seq)
				}
				if s.Run == "20260301T100005Z" && firstOfRun2 == 0 {
					firstOfRun2 = s.Seq
				}
				if s.Seq != uint64(i) || s.Name != strconv.Itoa(i)+".m4s" {
					t.Errorf("segment %d: seq %d name %s", i, s.Seq, s.Name)
				}
			}
			if tc.wantDisc && !slices.Equal(discs, []uint64{firstOfRun2}) {
				t.Errorf("discontinuities before %v, want one before %d", discs, firstOfRun2)
			}
			if !tc.wantDisc && len(discs) != 0 {
				t.Errorf("discontinuities before %v, want none", discs)
			}
			if !runs["20260301T100000Z"] || !runs["20260301T100005Z"] || len(runs) != 2 {
				t.Errorf("runs %v", runs)
			}
			sink.mu.Lock()
			ended := slices.Clone(sink.ended)
			sink.mu.Unlock()
			if want := []string{"main/20260301T100000Z", "main/20260301T100005Z"}; !slices.Equal(ended, want) {
				t.Errorf("RunEnded calls %v, want %v", ended, want)
			}
			for _, s := range pl.Segments {
				if s.Discontinuity != (tc.wantDisc && s.Seq == firstOfRun2) {
					t.Errorf("segment %s: discontinuity %v", s.URI, s.Discontinuity)
				}
			}
			for _, s := range segs {
				if s.Run == "20260301T100005Z" && s.InitName != tc.maps[len(tc.maps)-1] {
					t.Errorf("segment %s of the second run uses %s", s.Name, s.InitName)
				}
			}

			// The decode timeline goes on across runs, for every track.
			lastEnd := map[int]uint64{}
			for _, s := range segs {
				for _, part := range segmentParts(t, s.Data) {
					for _, pt := range part.Tracks {
						if pt.BaseTime < lastEnd[pt.ID] {
							t.Errorf("segment %s: track %d starts at %d, before the previous end %d", s.Name, pt.ID, pt.BaseTime, lastEnd[pt.ID])
						}
						end := pt.BaseTime
						for _, smp := range pt.Samples {
							end += uint64(smp.Duration)
						}
						lastEnd[pt.ID] = end
					}
				}
			}

			r := probe(t, filepath.Join(dir, PlaylistName))
			if dur, _ := strconv.ParseFloat(r.Format.Duration, 64); math.Abs(dur-8) > 0.5 {
				t.Errorf("duration %.3fs, want about 8s", dur)
			}
			if errs := decodeErrors(t, filepath.Join(dir, PlaylistName)); errs != "" {
				t.Errorf("ffmpeg decode errors:\n%s", errs)
			}
		})
	}
}

func TestManager_paramChange(t *testing.T) {
	requireFFmpeg(t)
	a := load(t, encode(t, "a.mp4", append(videoIn("3"), "-c:v", "libx264", "-g", "30")...))
	b := load(t, encode(t, "b.mp4", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-t", "3", "-c:v", "libx264", "-g", "30"))
	withParams(a)
	withParams(b)
	units := append(slices.Clone(a.units), b.shifted(a.duration())...)
	var sink sinkRecorder
	m := newTestManager(t, &Manager{Sink: &sink})
	publish(m, "main", t0, a, units)

	_, pl := dump(t, m, "main")
	maps := pl.MapURIs()
	if len(maps) != 2 {
		t.Fatalf("init segments %v, want 2 (one per resolution, none for repeated SPS)", maps)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(get(t, m, "main", maps[1]))); err != nil {
		t.Fatal(err)
	}
	var sps h264.SPS
	if err := sps.Unmarshal(init.Tracks[0].Codec.(*mp4codecs.H264).SPS); err != nil {
		t.Fatal(err)
	}
	if sps.Width() != 160 || sps.Height() != 120 {
		t.Errorf("new init is %dx%d, want 160x120", sps.Width(), sps.Height())
	}
	discs := 0
	for _, s := range pl.Segments {
		if s.Discontinuity {
			discs++
			if s.Map != maps[1] {
				t.Errorf("discontinuity at %s, which uses %s", s.URI, s.Map)
			}
		}
	}
	if discs != 1 {
		t.Errorf("%d discontinuities, want 1", discs)
	}
	// Each part decodes with its own init segment.
	for _, s := range sink.segments() {
		path := filepath.Join(t.TempDir(), s.Name+".mp4")
		writeFile(t, path, append(slices.Clone(s.Init), s.Data...))
		r := probe(t, path)
		want := 320
		if s.InitName == maps[1] {
			want = 160
		}
		if len(r.Streams) != 1 || r.Streams[0].Width != want {
			t.Errorf("%s: streams %+v, want width %d", s.Name, r.Streams, want)
		}
		if errs := decodeErrors(t, path); errs != "" {
			t.Errorf("%s: decode errors:\n%s", s.Name, errs)
		}
	}
}

func TestManager_dropped(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "av.mp4", append(append(videoIn("6"), audioIn()...), "-t", "6", "-c:v", "libx264", "-g", "30", "-c:a", "aac")...))
	m := newTestManager(t, &Manager{})
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: md.tracks, Start: t0}})
	dropped := 0
	for _, u := range md.units {
		if u.DTS > 2500*time.Millisecond && u.DTS < 2800*time.Millisecond {
			dropped++ // the reader queue overflowed
			continue
		}
		c := *u
		c.Received = t0.Add(u.DTS)
		m.HandleEvent(stream.Event{Stage: "main", Unit: &c, Dropped: dropped})
		dropped = 0
	}
	m.HandleEvent(stream.Event{Stage: "main", End: true})
	dir, pl := dump(t, m, "main")
	if d := pl.Duration(); d < 4.5 || d > 5.8 {
		t.Errorf("playlist lasts %.3fs, want 6s minus the gap", d)
	}
	if errs := decodeErrors(t, filepath.Join(dir, PlaylistName)); errs != "" {
		t.Errorf("ffmpeg decode errors after a gap:\n%s", errs)
	}
}

// A publisher whose clock jumps back (a camera restarting its RTP clock) keeps
// one continuous timeline, without a new init segment.
func TestManager_timestampJump(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "av.mp4", append(append(videoIn("4"), audioIn()...), "-t", "4", "-c:v", "libx264", "-g", "30", "-c:a", "aac")...))
	logs := &countingHandler{}
	m := newTestManager(t, &Manager{Log: slog.New(logs)})
	units := slices.Clone(md.units)
	for _, u := range md.units { // the clock restarts at 0
		c := *u
		c.Received = t0.Add(md.duration() + u.DTS)
		units = append(units, &c)
	}
	publish(m, "main", t0, md, units)

	dir, pl := dump(t, m, "main")
	if len(pl.MapURIs()) != 1 || slices.ContainsFunc(pl.Segments, func(s hlscheck.Segment) bool { return s.Discontinuity }) {
		t.Errorf("maps %v and discontinuities: a clock jump needs neither", pl.MapURIs())
	}
	if d := pl.Duration(); math.Abs(d-8) > 0.3 {
		t.Errorf("playlist lasts %.3fs, want about 8s", d)
	}
	if len(logs.warns) != 1 {
		t.Errorf("warnings %q, want one about the jump", logs.warns)
	}
	r := probe(t, filepath.Join(dir, PlaylistName))
	if dur, _ := strconv.ParseFloat(r.Format.Duration, 64); math.Abs(dur-8) > 0.3 {
		t.Errorf("ffprobe duration %.3fs, want about 8s", dur)
	}
	if errs := decodeErrors(t, filepath.Join(dir, PlaylistName)); errs != "" {
		t.Errorf("ffmpeg decode errors:\n%s", errs)
	}
}

// Close ends the open run: its last segment reaches the sink, then RunEnded.
func TestManager_Close(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "v.mp4", append(videoIn("3"), "-c:v", "libx264", "-g", "30")...))
	var sink sinkRecorder
	m := &Manager{Sink: &sink}
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: md.tracks, Start: t0}})
	for _, u := range md.units {
		c := *u
		c.Received = t0.Add(u.DTS)
		m.HandleEvent(stream.Event{Stage: "main", Unit: &c})
	}
	before := len(sink.segments())
	m.Close()
	m.Close()
	if got := len(sink.segments()); got != before+1 {
		t.Errorf("Close flushed %d segments, want 1", got-before)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if want := []string{"main/20260301T100000Z"}; !slices.Equal(sink.ended, want) {
		t.Errorf("RunEnded calls %v, want %v", sink.ended, want)
	}
}

// TestManager_keyframeCut: segments follow the encoder's 2 s keyframes
// whatever the container did to the timestamps (issue 13, finding 13).
func TestManager_keyframeCut(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "bf.mp4", append(videoIn("9"), "-c:v", "libx264", "-g", "60", "-bf", "2", "-sc_threshold", "0")...))
	frame := time.Second / 30
	cases := []struct {
		name  string
		adapt func(u *stream.Unit)
	}{
		{"exact", func(*stream.Unit) {}},
		{"keyframes 20 ns short (a step truncated to nanoseconds)", func(u *stream.Unit) {
			u.DTS -= u.DTS / 100_000_000
			u.PTS -= u.PTS / 100_000_000
		}},
		{"clock 0.15 % fast (keyframes 1.997 s apart)", func(u *stream.Unit) {
			u.DTS -= u.DTS * 15 / 10_000
			u.PTS -= u.PTS * 15 / 10_000
		}},
		{"negative decode times clamped to 0 (GStreamer flvmux)", func(u *stream.Unit) {
			u.PTS += 2 * frame
			u.DTS = max(u.DTS, 0)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			units := md.shifted(0)
			if strings.HasPrefix(tc.name, "negative") {
				units = md.shifted(-2 * frame)
			}
			for _, u := range units {
				tc.adapt(u)
			}
			m := newTestManager(t, &Manager{})
			publish(m, "main", t0, md, units)
			_, pl := dump(t, m, "main")
			var durs []string
			for _, s := range pl.Segments {
				durs = append(durs, strconv.FormatFloat(s.Duration, 'f', 3, 64))
			}
			if pl.TargetDuration != 2 {
				t.Errorf("TARGETDURATION %d, want 2; segments %v", pl.TargetDuration, durs)
			}
			if len(pl.Segments) != 5 {
				t.Fatalf("%d segments for 9 s of 2 s GOPs, want 5: %v", len(pl.Segments), durs)
			}
			for _, s := range pl.Segments[:4] {
				if s.Duration < 1.9 || s.Duration > 2.01 {
					t.Errorf("segment %s lasts %.3f s, want one GOP: %v", s.URI, s.Duration, durs)
				}
			}
		})
	}
}
