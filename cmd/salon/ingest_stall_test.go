package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtcp"
)

// h264Clip encodes two seconds of test video with ffmpeg and returns its
// access units (split at the delimiters x264 writes with aud=1).
func h264Clip(t *testing.T) [][][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip.h264")
	ff := startProc(t, "ffmpeg", ffmpegArgs("", []string{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25"}, seconds(2),
		[]string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-x264-params", "aud=1", "-f", "h264", out})...)
	if err := ff.wait(t, 60*time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, ff.stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// x264 starts every access unit with a delimiter: 00 00 00 01 09.
	aud := []byte{0, 0, 0, 1, 9}
	var aus [][][]byte
	for _, chunk := range bytes.Split(raw, aud)[1:] {
		var nalus h264.AnnexB
		if err := nalus.Unmarshal(append(append([]byte(nil), aud...), chunk...)); err != nil {
			t.Fatal(err)
		}
		aus = append(aus, nalus[1:]) // without the delimiter
	}
	return aus
}

// TestIngestAttack_StalledPublisher (finding 15): a publisher sends two
// seconds of video, then its encoder is stuck: no more media, but its RTSP
// session stays alive with an RTCP sender report every second (what
// `gst-launch … rtspclientsink` waiting for EOS looks like). It used to hold
// the stage for 10 minutes and refuse the backup publisher. Now the stage is
// freed after 10 s without media and the backup takes it.
func TestIngestAttack_StalledPublisher(t *testing.T) {
	needTools(t, "ffmpeg")
	aus := h264Clip(t)
	data := t.TempDir()
	httpAddr, rtspAddr := freePort(t), freePort(t)
	salon := runSalon(t, httpAddr, nil, "-http", httpAddr, "-rtsp", rtspAddr, "-rtmp", "", "-data", data,
		"-publish-key", testKey, "-admin-token", "test-admin-token", "-segment", "1s", "-window", "10s")
	url := fmt.Sprintf("rtsp://%s/live/main?key=%s", rtspAddr, testKey)

	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}}}
	tcp := gortsplib.TransportTCP
	stuck := &gortsplib.Client{Transport: &tcp}
	if err := stuck.StartRecording(url, desc); err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkt := range pkts {
			pkt.Timestamp += uint32(i * 3600) // 25 fps on the 90 kHz clock
			if err := stuck.WritePacketRTP(desc.Medias[0], pkt); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(40 * time.Millisecond)
	}
	waitLog(t, salon, "publish started", "stage=main")
	stalled := time.Now()
	// The encoder is stuck; the session is kept alive.
	stopKeepalive := make(chan struct{})
	defer close(stopKeepalive)
	go func() {
		for {
			select {
			case <-stopKeepalive:
				return
			case <-time.After(time.Second):
			}
			sr := &rtcp.SenderReport{SSRC: 1, NTPTime: uint64(time.Now().Unix()) << 32}
			if stuck.WritePacketRTCP(desc.Medias[0], sr) != nil {
				return
			}
		}
	}()

	// The backup is refused while the stage is held…
	early := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, seconds(3), rtspOut(url))...)
	if err := early.wait(t, 60*time.Second); err == nil && logLines(salon, "no media from the publisher") == 0 {
		t.Fatalf("the backup got the stage while the stuck publisher held it:\n%s", early.stderr.String())
	}
	// …until 10 s without media free it.
	waitLog(t, salon, "no media from the publisher", "stage=main")
	held := time.Since(stalled)
	waitLog(t, salon, "publisher left", "stage=main")
	closed := make(chan error, 1)
	go func() { closed <- stuck.Wait() }()
	select {
	case <-closed:
	case <-time.After(60 * time.Second):
		t.Fatal("the stuck publisher's session is still open")
	}
	backup := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtspOut(url))...)
	for deadline := time.Now().Add(60 * time.Second); logLines(salon, "publish started", "stage=main") < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the backup publisher did not get the stage:\n%s\nsalon:\n%s", backup.stderr.String(), salon.stderr.String())
		}
	}
	before := lastSegment(t, waitSegmentsAt(t, httpAddr, "main", 1, time.Minute))
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		_, body, _ := getQuiet("http://" + httpAddr + "/live/main/index.m3u8")
		if lastSegment(t, string(body)) >= before+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backup publisher's segments do not come:\n%s", body)
		}
	}
	t.Logf("a stuck publisher that kept its session alive held the stage for %s; the backup took it", held.Round(100*time.Millisecond))
}
