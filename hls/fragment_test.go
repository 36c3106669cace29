package hls

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// TestAppendFragment checks that the fragment writer produces the bytes of
// mediacommon's fmp4.Part.Marshal, which salon used before, for the cases
// that change the boxes: composition offsets, non-sync samples, access unit
// delimiters (dropped), several NALUs per frame, audio frames, several tracks.
func TestAppendFragment(t *testing.T) {
	sps := []byte{0x67, 0x42, 0xc0, 0x1f}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	aud := []byte{0x09, 0xf0}
	idr := []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	p := []byte{0x41, 0x9a, 0x02}
	h265AUD := []byte{35 << 1, 0x01, 0x50}
	h265IDR := []byte{19 << 1, 0x01, 0xaf, 0x12}
	h265P := []byte{1 << 1, 0x01, 0xd0}

	type unit struct {
		au  [][]byte
		dur uint32
		cto int32
	}
	type trackIn struct {
		id    int
		video bool
		h265  bool
		base  uint64
		units []unit
	}
	tests := []struct {
		name   string
		tracks []trackIn
	}{
		{"h264 with b-frames and aud", []trackIn{{id: 1, video: true, base: 90000, units: []unit{
			{au: [][]byte{aud, sps, pps, idr}, dur: 3000, cto: 6000},
			{au: [][]byte{aud, p}, dur: 3000, cto: -3000},
			{au: [][]byte{p, p}, dur: 3003, cto: 0},
		}}}},
		{"h264 keyframes only, no offsets", []trackIn{{id: 1, video: true, units: []unit{
			{au: [][]byte{idr}, dur: 3000},
			{au: [][]byte{sps, pps, idr}, dur: 3000},
		}}}},
		{"h265", []trackIn{{id: 1, video: true, h265: true, base: 1 << 40, units: []unit{
			{au: [][]byte{h265AUD, h265IDR}, dur: 1500},
			{au: [][]byte{h265P}, dur: 1500, cto: 1500},
		}}}},
		{"video and audio", []trackIn{
			{id: 1, video: true, base: 3000, units: []unit{{au: [][]byte{idr}, dur: 3000}, {au: [][]byte{p}, dur: 3000}}},
			{id: 2, base: 1024, units: []unit{{au: [][]byte{{0x21, 0x10}}, dur: 1024}, {au: [][]byte{{0x21}, {0x22, 0x23}}, dur: 1024}}},
		}},
		{"audio only", []trackIn{{id: 1, units: []unit{{au: [][]byte{{1, 2, 3}}, dur: 960}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fts []fragTrack
			want := fmp4.Part{SequenceNumber: 7}
			for _, tr := range tt.tracks {
				ft := fragTrack{id: tr.id, baseTime: tr.base, video: tr.video, h265: tr.h265}
				pt := &fmp4.PartTrack{ID: tr.id, BaseTime: tr.base}
				for _, u := range tr.units {
					s := sample{dur: u.dur, ptsOffset: u.cto, au: u.au}
					ms := &fmp4.Sample{Duration: u.dur}
					if tr.video {
						var err error
						s.size, s.nonSync, err = videoSample(u.au, tr.h265)
						if err != nil {
							t.Fatal(err)
						}
						au := stripAUDs(u.au, tr.h265)
						if tr.h265 {
							err = ms.FillH265(u.cto, au)
						} else {
							err = ms.FillH264(u.cto, au)
						}
						if err != nil {
							t.Fatal(err)
						}
						ms.Duration = u.dur
					} else {
						s.size = len(bytes.Join(u.au, nil))
						ms.Payload = bytes.Join(u.au, nil)
					}
					ft.samples = append(ft.samples, s)
					pt.Samples = append(pt.Samples, ms)
				}
				fts = append(fts, ft)
				want.Tracks = append(want.Tracks, pt)
			}
			var buf seekablebuffer.Buffer
			if err := want.Marshal(&buf); err != nil {
				t.Fatal(err)
			}
			prefix := []byte("previous part")
			got, err := appendFragment(bytes.Clone(prefix), 7, fts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatal("appendFragment changed the bytes before it")
			}
			if !bytes.Equal(got[len(prefix):], buf.Bytes()) {
				t.Errorf("fragment differs from fmp4.Part.Marshal:\ngot  %x\nwant %x", got[len(prefix):], buf.Bytes())
			}
		})
	}
}

func stripAUDs(au [][]byte, isH265 bool) [][]byte {
	var out [][]byte
	for _, n := range au {
		if !isAUD(n, isH265) {
			out = append(out, n)
		}
	}
	return out
}

func TestVideoSample_empty(t *testing.T) {
	if _, _, err := videoSample([][]byte{{0x09, 0xf0}}, false); err == nil {
		t.Error("an access unit of only a delimiter was accepted")
	}
	if _, _, err := videoSample(nil, true); err == nil {
		t.Error("an empty access unit was accepted")
	}
}
