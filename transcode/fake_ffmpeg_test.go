package transcode

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a fake ffmpeg for the supervisor's logic
// (stalls, clean ends): with SALON_FAKE_FFMPEG set it acts as ffmpeg and
// never runs the tests. The real ffmpeg is used everywhere media matters.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SALON_FAKE_FFMPEG"); mode != "" {
		os.Exit(fakeFFmpeg(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeFFmpeg answers the probe like ffmpeg, then behaves as mode says:
// "stall" never reads its input and never reports a frame; "drain" reads
// its input to the end, reporting a frame per 188-byte packet on fd 3.
func fakeFFmpeg(mode string, args []string) int {
	joined := strings.Join(args, " ")
	switch {
	case strings.Contains(joined, "-encoders"):
		fmt.Println(" V....D libx264              libx264 H.264")
		return 0
	case strings.Contains(joined, "-h long"):
		fmt.Println("-fps_mode  -enc_time_base")
		return 0
	}
	progress := os.NewFile(3, "progress")
	switch mode {
	case "stall":
		fmt.Fprintln(os.Stderr, "fake ffmpeg: stalling")
		time.Sleep(time.Hour)
	case "drain":
		buf := make([]byte, 188)
		frames := 0
		for {
			if _, err := io.ReadFull(os.Stdin, buf); err != nil {
				fmt.Fprintln(os.Stderr, "fake ffmpeg: end of input")
				return 0
			}
			frames++
			fmt.Fprintf(progress, "frame=%d\nprogress=continue\n", frames)
		}
	}
	return 2
}

// fakeTranscoder makes a Transcoder whose ffmpeg is this test binary.
func fakeTranscoder(t *testing.T, mode string) *Transcoder {
	t.Setenv("SALON_FAKE_FFMPEG", mode)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Transcoder{
		Renditions: []Rendition{{Name: "480p", Height: 480, Bitrate: 1_200_000}},
		Target:     func(stage, r string) string { return "rtsp://127.0.0.1:1/live/" + stage + "/" + r + "?key=k" },
		FFmpeg:     exe,
		MinBackoff: 50 * time.Millisecond,
		StopGrace:  2 * time.Second,
	}
}
