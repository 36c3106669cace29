package transcode

import (
	"slices"
	"strings"
	"testing"
)

// argAfter returns the value after the i-th occurrence of flag in args.
func argsAfter(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

func TestFFmpegArgs(t *testing.T) {
	outs := []output{
		{Rendition{Name: "720p", Height: 720, Bitrate: 2_800_000}, "rtsp://127.0.0.1:8554/live/main/720p?key=K"},
		{Rendition{Name: "480p", Height: 480, Bitrate: 1_200_000}, "rtmp://127.0.0.1:1935/live/main/480p?key=K"},
	}
	cases := []struct {
		name     string
		encoder  string
		device   string
		feats    features
		want     []string // flags that must be present (each followed by its value where given as "flag=value")
		wantNot  []string
		wantFilt string
	}{
		{"libx264", "libx264", "", features{fpsMode: true, encTimeBase: true},
			[]string{"-preset=veryfast", "-tune=zerolatency", "-sc_threshold=0", "-fps_mode=passthrough", "-enc_time_base=-1", "-forced-idr=1"},
			[]string{"-vsync", "-vaapi_device"},
			"[0:v:0]split=2[s0][s1];[s0]scale=-2:720,format=yuv420p[v0];[s1]scale=-2:480,format=yuv420p[v1]"},
		{"old ffmpeg", "libx264", "", features{},
			[]string{"-vsync=passthrough"}, []string{"-fps_mode", "-enc_time_base"}, ""},
		{"vaapi", "h264_vaapi", "/dev/dri/renderD129", features{fpsMode: true},
			[]string{"-vaapi_device=/dev/dri/renderD129", "-bf=0"}, []string{"-tune"},
			"[0:v:0]split=2[s0][s1];[s0]scale=-2:720,format=nv12,hwupload[v0];[s1]scale=-2:480,format=nv12,hwupload[v1]"},
		{"nvenc", "h264_nvenc", "1", features{fpsMode: true},
			[]string{"-gpu=1", "-no-scenecut=1", "-forced-idr=1", "-tune=ll"}, []string{"-vaapi_device"}, ""},
		{"qsv", "h264_qsv", "/dev/dri/renderD128", features{fpsMode: true},
			[]string{"-qsv_device=/dev/dri/renderD128", "-forced_idr=1", "-look_ahead=0"}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := ffmpegArgs(outs, c.encoder, c.device, c.feats)
			// The input: MPEG-TS on stdin, timestamps kept.
			for _, w := range []string{"-copyts", "-nostdin"} {
				if !slices.Contains(args, w) {
					t.Errorf("no %s in %q", w, args)
				}
			}
			if in := argsAfter(args, "-i"); len(in) != 1 || in[0] != "pipe:0" {
				t.Errorf("-i %v, want pipe:0 once", in)
			}
			// Every output: its own encoder, keyframes where the source has
			// them, its audio, its bitrates, its URL and format.
			for _, flag := range []string{"-c:v", "-force_key_frames", "-c:a", "-b:v", "-b:a"} {
				if n := len(argsAfter(args, flag)); n != len(outs) {
					t.Errorf("%s given %d times, want %d", flag, n, len(outs))
				}
			}
			if v := argsAfter(args, "-force_key_frames"); v[0] != "source" || v[1] != "source" {
				t.Errorf("-force_key_frames %v", v)
			}
			if v := argsAfter(args, "-b:v"); v[0] != "2800000" || v[1] != "1200000" {
				t.Errorf("-b:v %v", v)
			}
			if v := argsAfter(args, "-c:a"); v[0] != "aac" || v[1] != "aac" {
				t.Errorf("-c:a %v, want aac", v)
			}
			if v := argsAfter(args, "-b:a"); v[0] != "128000" || v[1] != "96000" {
				t.Errorf("-b:a %v", v)
			}
			if v := argsAfter(args, "-f"); !slices.Equal(v, []string{"mpegts", "rtsp", "flv"}) {
				t.Errorf("-f %v, want mpegts in, rtsp and flv out", v)
			}
			if args[len(args)-1] != outs[1].URL || !slices.Contains(args, outs[0].URL) {
				t.Errorf("the outputs' URLs are missing: %q", args)
			}
			for _, w := range c.want {
				flag, val, hasVal := strings.Cut(w, "=")
				vs := argsAfter(args, flag)
				if len(vs) == 0 || (hasVal && !slices.Contains(vs, val)) {
					t.Errorf("%s: got %v in %q", w, vs, args)
				}
			}
			for _, w := range c.wantNot {
				if slices.Contains(args, w) {
					t.Errorf("%s should not be there: %q", w, args)
				}
			}
			if c.wantFilt != "" {
				if f := argsAfter(args, "-filter_complex"); len(f) != 1 || f[0] != c.wantFilt {
					t.Errorf("filter %v, want %q", f, c.wantFilt)
				}
			}
		})
	}
}

func TestFilterGraph_One(t *testing.T) {
	got := filterGraph([]output{{Rendition: Rendition{Name: "480p", Height: 480}}}, "libx264")
	if want := "[0:v:0]scale=-2:480,format=yuv420p[v0]"; got != want {
		t.Fatalf("filterGraph = %q, want %q", got, want)
	}
}

func TestRedactArgs(t *testing.T) {
	args := []string{"-f", "rtsp", "rtsp://127.0.0.1:8554/live/main/480p?key=s3cret", "rtsp://u:s3cret@127.0.0.1/live/x", "-map", "[v0]"}
	got := strings.Join(redactArgs(args), " ")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "live/main/480p") || !strings.Contains(got, "[v0]") {
		t.Fatalf("redactArgs = %q", got)
	}
}

func TestHasEncoder(t *testing.T) {
	list := "Encoders:\n V..... = Video\n ------\n V....D libx264              libx264 H.264\n V....D h264_vaapi           H.264/AVC (VAAPI)\n A..... aac                  AAC\n"
	for name, want := range map[string]bool{"libx264": true, "h264_vaapi": true, "h264_nvenc": false, "Video": false, "aac": true} {
		if got := hasEncoder(list, name); got != want {
			t.Errorf("hasEncoder(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	tb := newTailBuffer(2, 10)
	tb.Write([]byte("first line\nsecond"))
	tb.Write([]byte(" part\r\nthird is a very long line\n"))
	tb.Write([]byte("partial"))
	got := tb.Lines()
	want := []string{"second par", "third is a", "partial"}
	if !slices.Equal(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
	if tb.Last() != "partial" {
		t.Fatalf("Last = %q", tb.Last())
	}
}
