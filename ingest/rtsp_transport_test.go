package ingest

import (
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
)

// TestRTSPServer_Transport: a SETUP for UDP is refused with a 461 that says
// what to do, and salon logs it; the README's GStreamer pipeline publishes
// with protocols=tcp (issue 13, finding 18: without it GStreamer printed only
// "Could not setup transport" and salon logged nothing).
func TestRTSPServer_Transport(t *testing.T) {
	t.Run("udp setup gets a reason", func(t *testing.T) {
		reg, _ := newTestRegistry(t)
		log, logs := teeLogger(t)
		srv := &RTSPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log}
		if err := srv.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}}}
		udp := gortsplib.TransportUDP
		c := &gortsplib.Client{Transport: &udp}
		err := c.StartRecording(rtspURL(srv, "main", testKey), desc)
		if err == nil {
			c.Close()
			t.Fatal("a UDP publish was accepted")
		}
		if !strings.Contains(err.Error(), "461") || !strings.Contains(err.Error(), "protocols=tcp") {
			t.Errorf("the refusal does not say what to do: %v", err)
		}
		if !strings.Contains(logs.String(), "asked for UDP") {
			t.Errorf("salon logged nothing about the UDP refusal:\n%s", logs.String())
		}
	})

	// The README's pipeline, with num-buffers so that it ends.
	readme := func(url string, tcp bool) []string {
		args := []string{"videotestsrc", "is-live=true", "num-buffers=60", "!",
			"x264enc", "tune=zerolatency", "key-int-max=60", "!", "rtspclientsink"}
		if tcp {
			args = append(args, "protocols=tcp")
		}
		return append(args, "location="+url)
	}
	for _, tcp := range []bool{false, true} {
		name := "readme gstreamer pipeline without protocols=tcp fails"
		if tcp {
			name = "readme gstreamer pipeline publishes"
		}
		t.Run(name, func(t *testing.T) {
			reg, rec := newTestRegistry(t)
			srv := startRTSP(t, reg)
			run, out, err := runGst(t, rec, "main", func(stage string) []string { return readme(rtspURL(srv, stage, testKey), tcp) })
			if !tcp {
				if err == nil || !strings.Contains(string(out), "Could not setup transport") {
					t.Fatalf("without protocols=tcp: %v\n%s", err, out)
				}
				return
			}
			// At EOS, rtspclientsink tears the session down and may still
			// write after salon closed the connection ("Could not write to
			// resource"): a race of the teardown, not of the publish, which
			// the run below checks.
			if err != nil && !strings.Contains(string(out), "Got EOS from element") {
				t.Fatalf("gst-launch-1.0: %v\n%s", err, out)
			}
			if run == nil {
				t.Fatalf("gst-launch-1.0 made no publish:\n%s", out)
			}
			checkRun(t, run, run.start.Stage, "H264")
		})
	}
}
