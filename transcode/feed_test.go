package transcode

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/salon/salon/ingest/stream"
)

var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xd9}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
	idr     = []byte{0x65, 0x88, 0x84}
	pFrame  = []byte{0x41, 0x9a, 0x02}
)

type tsUnit struct {
	video    bool
	pts, dts int64
	au       [][]byte
}

// readTS demuxes what a feed wrote.
func readTS(t *testing.T, b []byte) []tsUnit {
	t.Helper()
	r := &mpegts.Reader{R: bytes.NewReader(b)}
	if err := r.Initialize(); err != nil {
		t.Fatalf("the feed is not MPEG-TS: %v", err)
	}
	var out []tsUnit
	for _, tr := range r.Tracks() {
		switch tr.Codec.(type) {
		case *tscodecs.H264:
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				out = append(out, tsUnit{video: true, pts: pts, dts: dts, au: au})
				return nil
			})
		case *tscodecs.MPEG4Audio:
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				out = append(out, tsUnit{pts: pts, dts: pts, au: aus})
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("read TS: %v", err)
			}
			return out
		}
	}
}

func TestTSFeed_Write(t *testing.T) {
	s := &stream.Stream{Stage: "main", Tracks: []*stream.Track{
		{Codec: &mp4codecs.H264{SPS: testSPS, PPS: testPPS}},
		{Codec: &mp4codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}}},
	}}
	ms := time.Millisecond
	units := []struct {
		u       stream.Unit
		dropped bool // the registry dropped units just before this one
		want    bool // written
	}{
		{stream.Unit{Track: 1, PTS: 0, DTS: 0, RandomAccess: true, AU: [][]byte{{1, 2}}}, false, false}, // audio before the first keyframe
		{stream.Unit{Track: 0, PTS: 33 * ms, DTS: 0, AU: [][]byte{pFrame}}, false, false},               // not decodable
		{stream.Unit{Track: 0, PTS: 100 * ms, DTS: 66 * ms, RandomAccess: true, AU: [][]byte{idr}}, false, true},
		{stream.Unit{Track: 1, PTS: 101 * ms, DTS: 101 * ms, RandomAccess: true, AU: [][]byte{{3, 4}}}, false, true},
		{stream.Unit{Track: 0, PTS: 133 * ms, DTS: 100 * ms, AU: [][]byte{pFrame}}, false, true},
		{stream.Unit{Track: 0, PTS: 300 * ms, DTS: 300 * ms, AU: [][]byte{pFrame}}, true, false}, // after a drop: wait
		{stream.Unit{Track: 1, PTS: 301 * ms, DTS: 301 * ms, RandomAccess: true, AU: [][]byte{{5}}}, false, false},
		{stream.Unit{Track: 0, PTS: 2*time.Second + 1, DTS: 2 * time.Second, RandomAccess: true, AU: [][]byte{idr}}, false, true},
		{stream.Unit{Track: 5, PTS: 0, AU: [][]byte{{1}}}, false, false}, // no such track
	}
	var buf bytes.Buffer
	f, err := newTSFeed(&buf, s)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range units {
		if c.dropped {
			f.resync()
		}
		ok, err := f.write(&c.u)
		if err != nil || ok != c.want {
			t.Fatalf("unit %d: write = %v, %v; want %v", i, ok, err, c.want)
		}
	}
	got := readTS(t, buf.Bytes())
	off := int64(tsOffset / time.Second * 90000)
	want := []tsUnit{
		{video: true, pts: off + 9000, dts: off + 5940},
		{pts: off + 9090, dts: off + 9090},
		{video: true, pts: off + 11970, dts: off + 9000},
		{video: true, pts: off + 180000, dts: off + 180000},
	}
	// The demuxer hands out a video PES when the next one starts: compare
	// each track's units in order.
	var video, audio []tsUnit
	for _, u := range got {
		if u.video {
			video = append(video, u)
		} else {
			audio = append(audio, u)
		}
	}
	got = append(video, audio...)
	want = append([]tsUnit{want[0], want[2], want[3]}, want[1])
	if len(got) != len(want) {
		t.Fatalf("read %d units, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].video != w.video || got[i].pts != w.pts || got[i].dts != w.dts {
			t.Errorf("unit %d: video %v pts %d dts %d, want video %v pts %d dts %d", i, got[i].video, got[i].pts, got[i].dts, w.video, w.pts, w.dts)
		}
	}
	// Each keyframe reaches ffmpeg with the parameter sets in front (the
	// publish had them only in its description).
	for _, i := range []int{0, 2} {
		au := got[i].au
		if len(au) != 3 || !bytes.Equal(au[0], testSPS) || !bytes.Equal(au[1], testPPS) || !bytes.Equal(au[2], idr) {
			t.Errorf("keyframe %d: NALUs %x, want SPS, PPS, IDR", i, au)
		}
	}
	if au := got[1].au; len(au) != 1 || !bytes.Equal(au[0], pFrame) {
		t.Errorf("P frame: NALUs %x, want it alone", au)
	}
}

func TestTSFeed_InBandParams(t *testing.T) {
	s := &stream.Stream{Stage: "main", Tracks: []*stream.Track{{Codec: &mp4codecs.H264{SPS: testSPS, PPS: testPPS}}}}
	newSPS := []byte{0x67, 0x64, 0x00, 0x28, 0xac}
	var buf bytes.Buffer
	f, err := newTSFeed(&buf, s)
	if err != nil {
		t.Fatal(err)
	}
	// A keyframe with new parameter sets in band, then one without: the
	// second gets the new ones.
	for _, u := range []stream.Unit{
		{Track: 0, RandomAccess: true, AU: [][]byte{newSPS, testPPS, idr}},
		{Track: 0, PTS: time.Second, DTS: time.Second, RandomAccess: true, AU: [][]byte{idr}},
	} {
		if _, err := f.write(&u); err != nil {
			t.Fatal(err)
		}
	}
	got := readTS(t, buf.Bytes())
	if len(got) != 2 || !bytes.Equal(got[1].au[0], newSPS) {
		t.Fatalf("second keyframe: %+v, want the in-band SPS %x in front", got, newSPS)
	}
}

func TestTSFeed_NoVideo(t *testing.T) {
	s := &stream.Stream{Stage: "main", Tracks: []*stream.Track{{Codec: &mp4codecs.Opus{ChannelCount: 2}}}}
	if _, err := newTSFeed(io.Discard, s); !errors.Is(err, errNoVideo) {
		t.Fatalf("newTSFeed(audio only) = %v, want errNoVideo", err)
	}
}

func TestTicks90k(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want int64
	}{
		{0, 900000},
		{-tsOffset, 0},
		{time.Second / 3, 930000},
		{26*time.Hour + 30*time.Minute, (int64(26*3600+30*60+10) * 90000) & (1<<33 - 1)},
	}
	for _, c := range cases {
		if got := ticks90k(c.d); got != c.want {
			t.Errorf("ticks90k(%s) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestTSFeed_H265(t *testing.T) {
	vps, sps, pps := []byte{0x40, 0x01, 0x0c}, []byte{0x42, 0x01, 0x01}, []byte{0x44, 0x01, 0xc1}
	idr265, trail := []byte{0x26, 0x01, 0xaf}, []byte{0x02, 0x01, 0xd0}
	s := &stream.Stream{Stage: "main", Tracks: []*stream.Track{{Codec: &mp4codecs.H265{VPS: vps, SPS: sps, PPS: pps}}}}
	var buf bytes.Buffer
	f, err := newTSFeed(&buf, s)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range []stream.Unit{
		{Track: 0, AU: [][]byte{trail}}, // before the first keyframe: skipped
		{Track: 0, PTS: time.Second, DTS: time.Second, RandomAccess: true, AU: [][]byte{idr265}},
		{Track: 0, PTS: 2 * time.Second, DTS: 2 * time.Second, AU: [][]byte{trail}},
	} {
		ok, err := f.write(&u)
		if err != nil || ok != (i > 0) {
			t.Fatalf("unit %d: write = %v, %v", i, ok, err)
		}
	}
	r := &mpegts.Reader{R: bytes.NewReader(buf.Bytes())}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	r.OnDataH265(r.Tracks()[0], func(pts, dts int64, au [][]byte) error {
		aus = append(aus, au)
		return nil
	})
	for r.Read() == nil {
	}
	if len(aus) != 2 || len(aus[0]) != 4 || !bytes.Equal(aus[0][0], vps) || !bytes.Equal(aus[0][3], idr265) {
		t.Fatalf("H.265 access units %x, want VPS, SPS, PPS, IDR then the trailing picture", aus)
	}
}
