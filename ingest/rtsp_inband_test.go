package ingest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
)

// h264AccessUnits encodes a short clip with ffmpeg and splits it into access
// units at the access unit delimiters x264 writes.
func h264AccessUnits(t *testing.T) [][][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip.h264")
	ff := startFFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-x264-params", "aud=1",
		"-f", "h264", out)
	if err := ff.wait(t); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, ff.stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	for _, n := range splitAnnexB(raw) {
		if h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
			aus = append(aus, nil)
			continue
		}
		if len(aus) > 0 {
			aus[len(aus)-1] = append(aus[len(aus)-1], n)
		}
	}
	return aus
}

// TestRTSPServer_InBandParameters publishes H.264 whose SDP has no
// sprop-parameter-sets, then goes silent without closing: the publish must
// start with the in-band SPS/PPS and end after the read timeout.
func TestRTSPServer_InBandParameters(t *testing.T) {
	aus := h264AccessUnits(t)
	reg, rec := newTestRegistry(t)
	srv := &RTSPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: testLogger(t), ReadTimeout: time.Second}
	if err := srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}}}
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{Transport: &tcp}
	if err := c.StartRecording(rtspURL(srv, "cam", testKey), desc); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	// Start mid-GOP: units before the first keyframe must be dropped.
	aus = aus[5:]
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkt := range pkts {
			pkt.Timestamp += uint32(1000 + i*3600)
			if err := c.WritePacketRTP(desc.Medias[0], pkt); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Now silence, with the connection open: the read timeout ends it.
	evs := rec.waitFor(t, "the end of the publish after the read timeout", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
	rs := runs(evs)
	if len(rs) != 1 {
		t.Fatalf("%d publishes, want 1", len(rs))
	}
	checkRun(t, rs[0], "cam", "H264")
	codec := rs[0].start.Tracks[0].Codec.(*mp4codecs.H264)
	var sps []byte
	for _, n := range aus[20] { // the keyframe at the start of the second GOP
		if h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			sps = n
		}
	}
	if len(codec.SPS) == 0 || len(codec.PPS) == 0 || !bytes.Equal(codec.SPS, sps) {
		t.Errorf("track SPS %x, PPS %x; want the in-band SPS %x", codec.SPS, codec.PPS, sps)
	}
	if want := len(aus) - 20; len(rs[0].units) != want {
		t.Errorf("%d units, want %d (from the first keyframe on)", len(rs[0].units), want)
	}
}

// splitAnnexB splits an Annex-B byte stream at its start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = append(out, bytes.TrimRight(b[start:i], "\x00"))
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
