package ingest

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/salon/salon/ingest/stream"
)

func startRTMP(t *testing.T, reg *stream.Registry) *RTMPServer {
	t.Helper()
	return startRTMPLog(t, reg, testLogger(t))
}

func startRTMPLog(t *testing.T, reg *stream.Registry, log *slog.Logger) *RTMPServer {
	t.Helper()
	s := &RTMPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestRTMPServer_Publish(t *testing.T) {
	cases := []struct {
		name   string
		out    func(s *RTMPServer) []string // output options and URL
		video  bool
		audio  string // ffmpeg audio codec, "" for none
		codecs []string
	}{
		{
			name: "url with key",
			out: func(s *RTMPServer) []string {
				return []string{"-f", "flv", fmt.Sprintf("rtmp://%s/live/main?key=%s", s.Addr(), testKey)}
			},
			video: true, audio: "aac",
			codecs: []string{"H264", "AAC"},
		},
		{
			// OBS: server rtmp://HOST/live and stream key "main?key=KEY".
			name: "obs server and stream key",
			out: func(s *RTMPServer) []string {
				return []string{"-f", "flv", "-rtmp_app", "live", "-rtmp_playpath", "main?key=" + testKey,
					fmt.Sprintf("rtmp://%s/live", s.Addr())}
			},
			video: true, audio: "aac",
			codecs: []string{"H264", "AAC"},
		},
		{
			name: "video only",
			out: func(s *RTMPServer) []string {
				return []string{"-f", "flv", fmt.Sprintf("rtmp://%s/live/main?key=%s", s.Addr(), testKey)}
			},
			video:  true,
			codecs: []string{"H264"},
		},
		{
			name: "audio only",
			out: func(s *RTMPServer) []string {
				return []string{"-f", "flv", fmt.Sprintf("rtmp://%s/live/main?key=%s", s.Addr(), testKey)}
			},
			audio:  "aac",
			codecs: []string{"AAC"},
		},
		{
			name: "mp3 skipped",
			out: func(s *RTMPServer) []string {
				return []string{"-f", "flv", fmt.Sprintf("rtmp://%s/live/main?key=%s", s.Addr(), testKey)}
			},
			video: true, audio: "libmp3lame",
			codecs: []string{"H264"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, rec := newTestRegistry(t)
			srv := startRTMP(t, reg)
			args := testInputs(tc.video, tc.audio != "", 44100)
			args = append(args, "-t", "3")
			if tc.video {
				args = append(args, x264()...)
			}
			if tc.audio != "" {
				args = append(args, "-c:a", tc.audio, "-ar", "44100")
			}
			ff := startFFmpeg(t, append(args, tc.out(srv)...)...)
			if err := ff.wait(t); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, ff.stderr.String())
			}
			evs := rec.waitFor(t, "the end of the publish", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
			rs := runs(evs)
			if len(rs) != 1 {
				t.Fatalf("%d publishes, want 1", len(rs))
			}
			checkRun(t, rs[0], "main", tc.codecs...)
			if rs[0].start.Source != "rtmp" {
				t.Errorf("source = %q, want rtmp", rs[0].start.Source)
			}
		})
	}
}

func TestRTMPServer_Refuse(t *testing.T) {
	cases := []struct {
		name    string
		url     string // path and query after the host
		audio   string
		video   bool
		read    bool
		wantErr string
		// wantLog is in the server's log: ffmpeg does not read the server's
		// messages once it sends media, so it cannot print them.
		wantLog string
	}{
		{name: "wrong key", url: "/live/main?key=nope", video: true, wantErr: "wrong publish key"},
		{name: "missing key", url: "/live/main", video: true, wantErr: "no publish key"},
		{name: "bad stage", url: "/live/Main?key=" + testKey, video: true, wantErr: "invalid stage name"},
		{name: "mp3 only", url: "/live/main?key=" + testKey, audio: "libmp3lame", wantLog: "MP3 is not supported"},
		{name: "reading", url: "/live/main?key=" + testKey, read: true, wantErr: "publishers only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, rec := newTestRegistry(t)
			log, logs := teeLogger(t)
			srv := startRTMPLog(t, reg, log)
			u := fmt.Sprintf("rtmp://%s%s", srv.Addr(), tc.url)
			var args []string
			if tc.read {
				args = []string{"-i", u, "-t", "1", "-f", "null", "-"}
			} else {
				args = testInputs(tc.video, tc.audio != "", 44100)
				// gortmplib reads 2 s of media before it knows the tracks.
				args = append(args, "-t", "6")
				if tc.video {
					args = append(args, x264()...)
				}
				if tc.audio != "" {
					args = append(args, "-c:a", tc.audio)
				}
				args = append(args, "-f", "flv", u)
			}
			ff := startFFmpeg(t, args...)
			err := ff.wait(t)
			t.Logf("ffmpeg: %v: %s", err, strings.TrimSpace(ff.stderr.String()))
			if err == nil && !tc.read {
				t.Errorf("ffmpeg succeeded, want a refusal")
			}
			if !strings.Contains(ff.stderr.String(), tc.wantErr) {
				t.Errorf("ffmpeg stderr does not mention %q", tc.wantErr)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("server log does not mention %q", tc.wantLog)
			}
			if n := count(rec.snapshot(), isStart); n != 0 {
				t.Errorf("%d publishes, want none", n)
			}
		})
	}
}

// TestRTMPServer_StageBusy refuses an RTMP publisher on a stage an RTSP
// publisher holds, and checks that closing the servers ends the publish.
func TestRTMPServer_StageBusy(t *testing.T) {
	reg, rec := newTestRegistry(t)
	rtsp := startRTSP(t, reg)
	rtmp := startRTMP(t, reg)
	args := testInputs(true, false, 0)
	args = append(args, "-t", "30")
	args = append(args, x264()...)
	first := startFFmpeg(t, append(args, "-f", "rtsp", "-rtsp_transport", "tcp", rtspURL(rtsp, "main", testKey))...)
	rec.waitFor(t, "units from the RTSP publisher", func(evs []stream.Event) bool { return len(evs) > 10 })

	args = testInputs(true, false, 0)
	args = append(args, "-t", "2")
	args = append(args, x264()...)
	second := startFFmpeg(t, append(args, "-f", "flv", fmt.Sprintf("rtmp://%s/live/main?key=%s", rtmp.Addr(), testKey))...)
	if err := second.wait(t); err == nil {
		t.Errorf("the RTMP publisher was accepted on a busy stage")
	}
	if !strings.Contains(second.stderr.String(), "already has a publisher") {
		t.Errorf("ffmpeg was not told why:\n%s", second.stderr.String())
	}
	before := len(rec.snapshot())
	rec.waitFor(t, "more units from the RTSP publisher", func(evs []stream.Event) bool { return len(evs) > before+10 })

	rtmp.Close()
	rtsp.Close()
	evs := rec.waitFor(t, "the end of the publish on Close", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
	if n := count(evs, isStart); n != 1 {
		t.Errorf("%d publishes, want 1", n)
	}
	first.kill()
}

// TestRTMPServer_Close ends a live RTMP publish when the server closes.
func TestRTMPServer_Close(t *testing.T) {
	reg, rec := newTestRegistry(t)
	srv := startRTMP(t, reg)
	args := testInputs(true, true, 44100)
	args = append(args, "-t", "30")
	args = append(args, x264()...)
	args = append(args, "-c:a", "aac", "-f", "flv", fmt.Sprintf("rtmp://%s/live/main?key=%s", srv.Addr(), testKey))
	ff := startFFmpeg(t, args...)
	rec.waitFor(t, "units", func(evs []stream.Event) bool { return len(evs) > 20 })
	srv.Close()
	evs := rec.waitFor(t, "the end of the publish", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
	checkRun(t, runs(evs)[0], "main", "H264", "AAC")
	if reg.Live("main") {
		t.Error("stage still live after Close")
	}
	if err := ff.wait(t); err == nil {
		t.Error("ffmpeg did not notice the server closing")
	}
}
