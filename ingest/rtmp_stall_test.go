package ingest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/salon/salon/ingest/stream"
)

// TestRTMPServer_StalledPublisher: an RTMP publisher sends two seconds of
// video, then only control messages (its connection stays alive, reads never
// time out). The media watchdog ends the publish and frees the stage.
func TestRTMPServer_StalledPublisher(t *testing.T) {
	aus := h264AccessUnits(t)
	reg, rec := newTestRegistry(t)
	log, buf := teeLogger(t)
	s := &RTMPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log,
		ReadTimeout: time.Minute, Limits: Limits{MediaTimeout: time.Second}}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	u, _ := url.Parse(fmt.Sprintf("rtmp://%s/live/main?key=%s", s.Addr(), testKey))
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sps, pps []byte
	for _, n := range aus[0] {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	track := &gortmplib.Track{Codec: &rtmpcodecs.H264{SPS: sps, PPS: pps}}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	// The server reads 2 s of media to learn the tracks: send 4 s.
	for i, au := range append(aus, aus...) {
		pts := time.Duration(i) * 40 * time.Millisecond
		if err := w.WriteH264(track, pts, pts, au); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, "the publish", func(evs []stream.Event) bool { return count(evs, isStart) == 1 })
	// Stuck: only pings from now on.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for i := uint32(0); ; i++ {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if c.Write(&message.UserControlPingRequest{ServerTime: i}) != nil {
				return
			}
		}
	}()
	rec.waitFor(t, "the end of the stalled publish", func(evs []stream.Event) bool { return count(evs, isEnd) == 1 })
	if !strings.Contains(buf.String(), "no media from the publisher") {
		t.Errorf("the publish ended for another reason:\n%s", buf.String())
	}
	if reg.Live("main") {
		t.Error("the stage is still taken")
	}
}
