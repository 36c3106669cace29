package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseConfig_Transcode(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // rendition names, space-separated
		encoder string
		wantErr string
	}{
		{name: "off by default", want: ""},
		{name: "flag", args: []string{"-transcode", "480p,720p"}, want: "720p 480p"},
		{name: "env", env: map[string]string{"SALON_TRANSCODE": "360p", "SALON_TRANSCODE_ENCODER": "h264_vaapi"}, want: "360p", encoder: "h264_vaapi"},
		{name: "flag beats env", args: []string{"-transcode", "480p"}, env: map[string]string{"SALON_TRANSCODE": "720p"}, want: "480p"},
		{name: "bad height", args: []string{"-transcode", "720"}, wantErr: `-transcode "720"`},
		{name: "odd height", env: map[string]string{"SALON_TRANSCODE": "479p"}, wantErr: "-transcode"},
		{name: "twice", args: []string{"-transcode", "480p,480p"}, wantErr: "twice"},
		{name: "bad encoder", args: []string{"-transcode", "480p", "-transcode-encoder", "x265"}, wantErr: "-transcode-encoder"},
		{name: "encoder without renditions", args: []string{"-transcode-encoder", "h264_nvenc"}, wantErr: "need -transcode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := parseCase(t, tc.args, tc.env, tc.wantErr)
			if !ok {
				return
			}
			var names []string
			for _, r := range c.Transcode.Renditions {
				names = append(names, r.Name)
			}
			if strings.Join(names, " ") != tc.want || c.Transcode.Encoder != tc.encoder || c.Transcode.On() != (tc.want != "") {
				t.Fatalf("Transcode = %+v, want %q with encoder %q", c.Transcode, tc.want, tc.encoder)
			}
		})
	}
}

func TestLoopbackPublishURL(t *testing.T) {
	cases := []struct{ scheme, addr, want string }{
		{"rtsp", "[::]:8554", "rtsp://127.0.0.1:8554/live/main/480p?key=k-1_x"},
		{"rtsp", "0.0.0.0:8554", "rtsp://127.0.0.1:8554/live/main/480p?key=k-1_x"},
		{"rtmp", ":1935", "rtmp://127.0.0.1:1935/live/main/480p?key=k-1_x"},
		{"rtsp", "127.0.0.1:41000", "rtsp://127.0.0.1:41000/live/main/480p?key=k-1_x"},
		{"rtsp", "[::1]:8554", "rtsp://[::1]:8554/live/main/480p?key=k-1_x"},
		{"rtsp", "10.0.0.5:8554", "rtsp://10.0.0.5:8554/live/main/480p?key=k-1_x"},
	}
	for _, c := range cases {
		if got := loopbackPublishURL(c.scheme, c.addr, "k-1_x", "main", "480p"); got != c.want {
			t.Errorf("loopbackPublishURL(%s, %s) = %s, want %s", c.scheme, c.addr, got, c.want)
		}
	}
	if _, err := transcodeTarget("", "", "k"); err == nil || !strings.Contains(err.Error(), "-rtsp or -rtmp") {
		t.Errorf("transcodeTarget with no ingest = %v", err)
	}
	f, err := transcodeTarget("", ":1935", "k")
	if err != nil || !strings.HasPrefix(f("main", "480p"), "rtmp://") {
		t.Errorf("transcodeTarget with RTMP only: %v", err)
	}
}

// TestRun_TranscodeWithoutFFmpeg: -transcode on a machine without ffmpeg
// stops salon at start with a message saying what to do.
func TestRun_TranscodeWithoutFFmpeg(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-transcode", "480p", "-http", freePort(t), "-rtsp", freePort(t), "-rtmp", freePort(t), "-data", t.TempDir())
	cmd.Env = append(os.Environ(), "SALON_TEST_MAIN=1", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "install ffmpeg or drop -transcode") {
		t.Fatalf("the error does not say what to do:\n%s", out)
	}
}
