package ingest

import (
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

func TestLatmConfig(t *testing.T) {
	cases := []struct {
		name   string
		config string
		ok     bool
		rate   int
	}{
		// GStreamer's rtpmp4apay over avenc_aac's AudioSpecificConfig
		// 120856e500 (AAC LC 44.1 kHz mono, sync extension, SBR not present).
		{"sbr sync extension", "40002410adca00", true, 44100},
		{"sbr sync extension, full tail", "40002410adca1fe0", true, 44100},
		// voaacenc's 1208: nothing to repair, mediacommon reads it.
		{"plain", "40002410", false, 0},
		{"empty", "", false, 0},
		{"audioMuxVersion 1", "c0002410adca00", false, 0},
		{"no sync extension after the config", "400024100000", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := hex.DecodeString(tc.config)
			if err != nil {
				t.Fatal(err)
			}
			smc, ok := latmConfig(raw)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			l := smc.Programs[0].Layers[0]
			if l.FrameLengthType != 0 || l.AudioSpecificConfig.SampleRate != tc.rate || l.AudioSpecificConfig.Type != mpeg4audio.ObjectTypeAACLC {
				t.Errorf("layer %+v, config %+v", l, l.AudioSpecificConfig)
			}
		})
	}
	// The upstream defect this works around: when mediacommon reads such a
	// config right, this fails, and rtp_latm.go can go.
	var smc mpeg4audio.StreamMuxConfig
	raw, _ := hex.DecodeString("40002410adca00")
	if err := smc.Unmarshal(raw); err == nil && smc.Programs[0].Layers[0].FrameLengthType == 0 {
		t.Log("mediacommon now reads the SBR sync extension: repairLATM is no longer needed")
	} else if err == nil {
		t.Logf("mediacommon reads frameLengthType %d from %x (the defect worked around)", smc.Programs[0].Layers[0].FrameLengthType, raw)
	}
}

func FuzzLatmConfig(f *testing.F) {
	for _, s := range []string{"40002410adca00", "40002410", "c0002410adca00", "400024100000", "40002410adca1fe0"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		smc, ok := latmConfig(raw)
		if ok && (smc == nil || smc.Programs[0].Layers[0].AudioSpecificConfig.SampleRate <= 0) {
			t.Fatalf("accepted a config without a sample rate: %x", raw)
		}
	})
}

func FuzzFmtpBySection(f *testing.F) {
	f.Add("v=0\r\nm=audio 0 RTP/AVP 96\r\na=rtpmap:96 MP4A-LATM/44100/1\r\na=fmtp:96 cpresent=0;config=40002410adca00\r\n")
	f.Add("a=fmtp:96 x\nm=video\na=fmtp:300 y\na=fmtp:96")
	f.Fuzz(func(t *testing.T, sdp string) {
		for _, sec := range fmtpBySection([]byte(sdp)) {
			for _, params := range sec {
				fmtpParam(params, "config")
			}
		}
	})
}

// TestRTSPServer_LATMWithSBRExtension publishes AAC whose AudioSpecificConfig
// carries the SBR sync extension (120856e500, what avenc_aac writes) with
// GStreamer over RTSP, as MP4A-LATM. Before the workaround every packet
// logged "unsupported frameLengthType 2" and the audio track stayed empty.
// voaacenc encodes the same AAC LC 44.1 kHz mono; capssetter gives it
// avenc_aac's config (gst-libav is not needed).
func TestRTSPServer_LATMWithSBRExtension(t *testing.T) {
	for _, el := range []string{"voaacenc", "capssetter", "rtpmp4apay"} {
		if exec.Command("gst-inspect-1.0", el).Run() != nil {
			t.Skipf("GStreamer element %s is missing (gstreamer1.0-plugins-good/-bad)", el)
		}
	}
	reg, rec := newTestRegistry(t)
	log, logs := teeLogger(t)
	srv := &RTSPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log}
	if err := srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	run, out, err := runGst(t, rec, "gst", func(stage string) []string {
		return []string{"-q",
			"rtspclientsink", "name=s", "protocols=tcp", "location=" + rtspURL(srv, stage, testKey),
			"videotestsrc", "num-buffers=75", "is-live=true", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!",
			"x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=25", "!", "h264parse", "!", "s.sink_0",
			"audiotestsrc", "num-buffers=130", "is-live=true", "!", "audio/x-raw,rate=44100,channels=1", "!",
			"voaacenc", "!", "capssetter", "caps=audio/mpeg,codec_data=(buffer)120856e500", "!", "s.sink_1",
		}
	})
	if err != nil {
		t.Fatalf("gst-launch-1.0: %v\n%s", err, out)
	}
	if run == nil {
		t.Fatalf("gst-launch-1.0 made no publish:\n%s", out)
	}
	checkRun(t, run, run.start.Stage, "H264", "AAC")
	if strings.Contains(logs.String(), "cannot decode RTP packet") {
		t.Errorf("salon could not decode the AAC:\n%s", logs.String())
	}
}
