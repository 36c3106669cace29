package archive

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	amp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// runSegments records 12 s of fMP4 HLS with ffmpeg, H.264 with B-frames and
// AAC, and returns the directory, the init segment and the segments'
// durations.
func runSegments(t *testing.T) (dir string, init []byte, durs []time.Duration) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; install ffmpeg to run the MP4 download test", tool)
		}
	}
	dir = t.TempDir()
	cmd := exec.CommandContext(t.Context(), "ffmpeg", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-bf", "2", "-sc_threshold", "0",
		"-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
		"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init-0.mp4",
		"-hls_segment_filename", "%d.m4s", "-hls_flags", "program_date_time", "index.m3u8")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	init, err := os.ReadFile(filepath.Join(dir, "init-0.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := parseRunPlaylist(pl)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rp.Segments {
		durs = append(durs, s.Duration)
	}
	return dir, init, durs
}

type probedStream struct {
	CodecType string `json:"codec_type"`
	StartTime string `json:"start_time"`
}

type probed struct {
	Streams []probedStream `json:"streams"`
	Format  struct {
		StartTime string `json:"start_time"`
		Duration  string `json:"duration"`
	} `json:"format"`
}

func probeFile(t *testing.T, path string) probed {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "ffprobe", "-v", "error", "-show_entries",
		"format=start_time,duration:stream=codec_type,start_time", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	return p
}

func seconds(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("ffprobe time %q: %v", s, err)
	}
	return f
}

// TestMP4Joiner_Fragment: segments cut from the middle of a run join into a
// file that starts at 0, lasts what its segments last, keeps sound and
// picture in step, and carries its length in a mehd box (issue 13, finding 16: "start: 67.97", duration 94 s for a 26 s
// talk).
func TestMP4Joiner_Fragment(t *testing.T) {
	dir, init, durs := runSegments(t)
	if len(durs) < 10 {
		t.Fatalf("ffmpeg wrote %d segments", len(durs))
	}
	first, last := 3, 8
	var want time.Duration
	for _, d := range durs[first : last+1] {
		want += d
	}
	j := &MP4Joiner{Init: init, Duration: want}
	if err := j.Initialize(); err != nil {
		t.Fatal(err)
	}
	header, err := j.Header()
	if err != nil {
		t.Fatal(err)
	}
	file := bytes.Clone(header)
	for i := first; i <= last; i++ {
		seg, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)+".m4s"))
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Fragment(seg); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		file = append(file, seg...)
	}
	path := filepath.Join(t.TempDir(), "talk.mp4")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}

	// Before: the joined file started where the run's timeline stood.
	raw := bytes.Clone(init)
	for i := first; i <= last; i++ {
		seg, _ := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)+".m4s"))
		raw = append(raw, seg...)
	}
	rawPath := filepath.Join(t.TempDir(), "raw.mp4")
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	before := probeFile(t, rawPath)
	p := probeFile(t, path)
	t.Logf("as stored: start %s, duration %s; joined: start %s, duration %s (segments %.3f s)",
		before.Format.StartTime, before.Format.Duration, p.Format.StartTime, p.Format.Duration, want.Seconds())
	if st := seconds(t, p.Format.StartTime); st < 0 || st > 0.1 {
		t.Errorf("the file starts at %.3f s, want 0", st)
	}
	if d := seconds(t, p.Format.Duration); math.Abs(d-want.Seconds()) > 0.1 {
		t.Errorf("the file lasts %.3f s, want %.3f s", d, want.Seconds())
	}
	// Sound and picture keep their distance: both start where they did
	// relative to each other in the run.
	starts := map[string][2]float64{}
	for i, s := range p.Streams {
		v := starts[s.CodecType]
		v[0] = seconds(t, s.StartTime)
		v[1] = seconds(t, before.Streams[i].StartTime)
		starts[s.CodecType] = v
	}
	if a, v := starts["audio"], starts["video"]; math.Abs((a[0]-v[0])-(a[1]-v[1])) > 0.001 {
		t.Errorf("audio-video offset changed: joined %.4f s, stored %.4f s", a[0]-v[0], a[1]-v[1])
	}

	// The header says how long the file is.
	boxes, err := amp4.ExtractBoxWithPayload(bytes.NewReader(header), nil,
		amp4.BoxPath{amp4.BoxTypeMoov(), amp4.BoxTypeMvex(), amp4.BoxTypeMehd()})
	if err != nil || len(boxes) != 1 {
		t.Fatalf("mehd: %v, %d boxes", err, len(boxes))
	}
	mvhd, _ := amp4.ExtractBoxWithPayload(bytes.NewReader(header), nil, amp4.BoxPath{amp4.BoxTypeMoov(), amp4.BoxTypeMvhd()})
	scale := float64(mvhd[0].Payload.(*amp4.Mvhd).Timescale)
	if got := float64(boxes[0].Payload.(*amp4.Mehd).GetFragmentDuration()) / scale; math.Abs(got-want.Seconds()) > 0.01 {
		t.Errorf("mehd says %.3f s, want %.3f s", got, want.Seconds())
	}
	if out, err := exec.CommandContext(t.Context(), "ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("the joined file does not decode cleanly: %v\n%s", err, out)
	}
}

// salonMedia is an init segment and a media segment as salon's segmenter
// writes them (mediacommon), video and audio starting at the given ticks.
func salonMedia(tb testing.TB, video, audio uint64) (init, part []byte) {
	tb.Helper()
	var ib seekablebuffer.Buffer
	err := (&fmp4.Init{Tracks: []*fmp4.InitTrack{
		{ID: 1, TimeScale: 90000, Codec: &mp4codecs.H264{
			SPS: []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08},
			PPS: []byte{0x68, 0xee, 0x3c, 0x80}}},
		{ID: 2, TimeScale: 48000, Codec: &mp4codecs.Opus{ChannelCount: 2}},
	}}).Marshal(&ib)
	if err != nil {
		tb.Fatal(err)
	}
	var pb seekablebuffer.Buffer
	err = (&fmp4.Part{SequenceNumber: 7, Tracks: []*fmp4.PartTrack{
		{ID: 1, BaseTime: video, Samples: []*fmp4.Sample{{Duration: 3000, PTSOffset: 6000, Payload: []byte{0, 0, 0, 1, 0x65}}}},
		{ID: 2, BaseTime: audio, Samples: []*fmp4.Sample{{Duration: 960, Payload: []byte{1, 2, 3}}}},
	}}).Marshal(&pb)
	if err != nil {
		tb.Fatal(err)
	}
	return ib.Bytes(), pb.Bytes()
}

// TestMP4Joiner_salonSegments: the earliest track of the first segment
// starts the file; the others keep their distance to it, in their own
// timescale; later segments move back by the same amount.
func TestMP4Joiner_salonSegments(t *testing.T) {
	cases := []struct {
		name                 string
		video, audio         uint64 // first segment
		wantVideo, wantAudio uint64
	}{
		{"audio 10 ticks after video", 3600 * 90000, 3600*48000 + 10, 0, 10},
		{"video 1 s after audio", 3601 * 90000, 3600 * 48000, 90000, 0},
		{"already at 0", 0, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			init, first := salonMedia(t, tc.video, tc.audio)
			_, second := salonMedia(t, tc.video+180000, tc.audio+96000)
			j := &MP4Joiner{Init: init, Duration: 4 * time.Second}
			if err := j.Initialize(); err != nil {
				t.Fatal(err)
			}
			for i, seg := range [][]byte{first, second} {
				if err := j.Fragment(seg); err != nil {
					t.Fatal(err)
				}
				var parts fmp4.Parts
				if err := parts.Unmarshal(seg); err != nil {
					t.Fatal(err)
				}
				got := map[int]uint64{}
				for _, pt := range parts[0].Tracks {
					got[pt.ID] = pt.BaseTime
				}
				wv, wa := tc.wantVideo+uint64(i)*180000, tc.wantAudio+uint64(i)*96000
				if got[1] != wv || got[2] != wa {
					t.Errorf("segment %d: video at %d, audio at %d; want %d, %d", i, got[1], got[2], wv, wa)
				}
			}
		})
	}
}

// FuzzMP4Joiner_Fragment: whatever the bucket holds, the joiner returns an
// error or rebases, and never panics or writes out of bounds.
func FuzzMP4Joiner_Fragment(f *testing.F) {
	init, part := salonMedia(f, 3600*90000, 3600*48000+10)
	f.Add(init, part)
	f.Add([]byte{}, []byte{})
	f.Add([]byte("\x00\x00\x00\x08moov"), []byte("\x00\x00\x00\x08moof"))
	f.Add([]byte("\x00\x00\x00\x10moov\x00\x00\x00\x08mvex"), []byte("\x00\x00\x00\x20moof\x00\x00\x00\x18traf\x00\x00\x00\x10tfdt\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, init, seg []byte) {
		j := &MP4Joiner{Init: init, Duration: time.Minute}
		if err := j.Initialize(); err != nil {
			return
		}
		_, _ = j.Header()
		seg = bytes.Clone(seg)
		if err := j.Fragment(seg); err != nil {
			return
		}
		// A segment rebased twice moves back by the origin only once more:
		// never below 0, never out of its bounds.
		_ = j.Fragment(seg)
	})
}
