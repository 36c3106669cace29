package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/salon/salon/ingest/stream"
)

func startRTSP(t *testing.T, reg *stream.Registry) *RTSPServer {
	t.Helper()
	s := &RTSPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: testLogger(t)}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func rtspURL(s *RTSPServer, stage, key string) string {
	u := fmt.Sprintf("rtsp://%s/live/%s", s.Addr(), stage)
	if key != "" {
		u += "?key=" + key
	}
	return u
}

func TestRTSPServer_Publish(t *testing.T) {
	cases := []struct {
		name   string
		args   func(url string) []string
		codecs []string
	}{
		{
			name: "h264+aac",
			args: func(url string) []string {
				a := testInputs(true, true, 48000)
				a = append(a, "-t", "3")
				a = append(a, x264()...)
				return append(a, "-c:a", "aac", "-b:a", "64k", "-f", "rtsp", "-rtsp_transport", "tcp", url)
			},
			codecs: []string{"H264", "AAC"},
		},
		{
			name: "h265+opus",
			args: func(url string) []string {
				a := testInputs(true, true, 48000)
				a = append(a, "-t", "3",
					"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:log-level=error", "-pix_fmt", "yuv420p",
					"-c:a", "libopus", "-b:a", "64k")
				return append(a, "-f", "rtsp", "-rtsp_transport", "tcp", url)
			},
			codecs: []string{"H265", "Opus"},
		},
		{
			name: "audio only",
			args: func(url string) []string {
				a := testInputs(false, true, 44100)
				return append(a, "-t", "3", "-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp", url)
			},
			codecs: []string{"AAC"},
		},
		{
			name: "video only",
			args: func(url string) []string {
				a := testInputs(true, false, 0)
				a = append(a, "-t", "3")
				a = append(a, x264()...)
				return append(a, "-f", "rtsp", "-rtsp_transport", "tcp", url)
			},
			codecs: []string{"H264"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, rec := newTestRegistry(t)
			srv := startRTSP(t, reg)
			ff := startFFmpeg(t, tc.args(rtspURL(srv, "main", testKey))...)
			if err := ff.wait(t); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, ff.stderr.String())
			}
			evs := rec.waitFor(t, "the end of the publish", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
			rs := runs(evs)
			if len(rs) != 1 {
				t.Fatalf("%d publishes, want 1", len(rs))
			}
			checkRun(t, rs[0], "main", tc.codecs...)
			if reg.Live("main") {
				t.Error("stage still live after the publisher left")
			}
		})
	}
}

func TestRTSPServer_Refuse(t *testing.T) {
	cases := []struct {
		name    string
		url     func(s *RTSPServer) string
		args    []string
		wantErr string // in ffmpeg's stderr
	}{
		{
			name:    "wrong key",
			url:     func(s *RTSPServer) string { return rtspURL(s, "main", "nope") },
			wantErr: "401",
		},
		{
			name:    "missing key",
			url:     func(s *RTSPServer) string { return rtspURL(s, "main", "") },
			wantErr: "401",
		},
		{
			name:    "wrong password",
			url:     func(s *RTSPServer) string { return fmt.Sprintf("rtsp://me:nope@%s/live/main", s.Addr()) },
			wantErr: "401",
		},
		{
			name:    "bad stage",
			url:     func(s *RTSPServer) string { return rtspURL(s, "Main_Stage", testKey) },
			wantErr: "invalid stage name",
		},
		{
			name:    "mjpeg",
			url:     func(s *RTSPServer) string { return rtspURL(s, "main", testKey) },
			args:    []string{"-c:v", "mjpeg", "-pix_fmt", "yuvj420p"},
			wantErr: "MJPEG",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, rec := newTestRegistry(t)
			srv := startRTSP(t, reg)
			args := testInputs(true, false, 0)
			args = append(args, "-t", "1")
			if tc.args != nil {
				args = append(args, tc.args...)
			} else {
				args = append(args, x264()...)
			}
			args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", tc.url(srv))
			ff := startFFmpeg(t, args...)
			if err := ff.wait(t); err == nil {
				t.Fatalf("ffmpeg succeeded, want a refusal; stderr:\n%s", ff.stderr.String())
			}
			if !strings.Contains(ff.stderr.String(), tc.wantErr) {
				t.Errorf("ffmpeg stderr does not mention %q:\n%s", tc.wantErr, ff.stderr.String())
			}
			t.Logf("ffmpeg said: %s", strings.TrimSpace(ff.stderr.String()))
			if n := len(rec.snapshot()); n != 0 {
				t.Errorf("%d events published, want none", n)
			}
		})
	}
}

func TestRTSPServer_KeyAsPassword(t *testing.T) {
	reg, rec := newTestRegistry(t)
	srv := startRTSP(t, reg)
	args := testInputs(true, false, 0)
	args = append(args, "-t", "2")
	args = append(args, x264()...)
	args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", fmt.Sprintf("rtsp://anyone:%s@%s/live/side", testKey, srv.Addr()))
	ff := startFFmpeg(t, args...)
	if err := ff.wait(t); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, ff.stderr.String())
	}
	evs := rec.waitFor(t, "the end of the publish", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
	checkRun(t, runs(evs)[0], "side", "H264")
}

func TestRTSPServer_SecondPublisher(t *testing.T) {
	reg, rec := newTestRegistry(t)
	srv := startRTSP(t, reg)
	publish := func(seconds string) *ffmpegCmd {
		args := testInputs(true, true, 48000)
		args = append(args, "-t", seconds)
		args = append(args, x264()...)
		args = append(args, "-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp", rtspURL(srv, "main", testKey))
		return startFFmpeg(t, args...)
	}
	first := publish("6")
	rec.waitFor(t, "the first publisher's units", func(evs []stream.Event) bool {
		rs := runs(evs)
		return len(rs) == 1 && len(rs[0].units) > 10
	})
	second := publish("2")
	if err := second.wait(t); err == nil {
		t.Fatalf("the second publisher was accepted; stderr:\n%s", second.stderr.String())
	}
	if !strings.Contains(second.stderr.String(), "already has a publisher") {
		t.Errorf("the second publisher was not told why:\n%s", second.stderr.String())
	}
	before := len(rec.snapshot())
	rec.waitFor(t, "more units from the first publisher", func(evs []stream.Event) bool { return len(evs) > before+10 })
	if err := first.wait(t); err != nil {
		t.Fatalf("first publisher: %v\n%s", err, first.stderr.String())
	}
	evs := rec.waitFor(t, "the end of the first publish", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
	if n := count(evs, isStart); n != 1 {
		t.Errorf("%d publishes, want 1", n)
	}
	checkRun(t, runs(evs)[0], "main", "H264", "AAC")
}

func TestRTSPServer_GStreamer(t *testing.T) {
	reg, rec := newTestRegistry(t)
	srv := startRTSP(t, reg)
	run, out, err := runGst(t, rec, "gst", func(stage string) []string {
		return []string{"-q",
			"rtspclientsink", "name=s", "protocols=tcp", "location=" + rtspURL(srv, stage, testKey),
			"videotestsrc", "num-buffers=75", "is-live=true", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!",
			"x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=25", "!", "h264parse", "!", "s.sink_0",
			"audiotestsrc", "num-buffers=150", "is-live=true", "!", "audio/x-raw,rate=48000,channels=2", "!",
			"opusenc", "!", "s.sink_1",
		}
	})
	if run == nil {
		t.Fatalf("gst-launch-1.0 made no publish (%v):\n%s", err, out)
	}
	if err != nil {
		// rtspclientsink sometimes waits for an EOS reply forever after its
		// sources ended (salon then frees the stage after 10 s without
		// media) and is killed at the helper's timeout; the publish it made
		// is what this test checks.
		t.Logf("gst-launch-1.0 did not exit by itself: %v", err)
	}
	checkRun(t, run, run.start.Stage, "H264", "Opus")
}
