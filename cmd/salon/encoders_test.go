package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
)

// Real encoders' habits, as issue 13 found them (findings 13, 16, 17, 18).

// finishedPlaylist waits until the stage's playlist holds at least secs
// seconds of media and returns it, checked against RFC 8216.
func finishedPlaylist(t *testing.T, a *app, stage string, secs float64) *hlscheck.Playlist {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var body []byte
	for time.Now().Before(deadline) {
		var code int
		code, body, _ = get(t, a.httpURL("/live/"+stage+"/index.m3u8"))
		if code == 200 {
			pl, err := hlscheck.CheckMediaPlaylist(body)
			if err != nil {
				t.Fatalf("live playlist: %v\n%s", err, body)
			}
			if pl.Duration() >= secs {
				return pl
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("stage %s: less than %.1f s of segments after 60 s; last playlist:\n%s", stage, secs, body)
	return nil
}

// gstRTMP is a GStreamer pipeline publishing x264 with B-frames through
// flvmux. The source is not live, so flvmux gets the encoder's negative
// decode times and clamps them to 0: the first keyframe's DTS equals its PTS,
// the next ones lie 67 ms before theirs.
func gstRTMP(url string, frames int) []string {
	return []string{"-q",
		"videotestsrc", fmt.Sprintf("num-buffers=%d", frames), "!",
		"video/x-raw,framerate=30/1,width=320,height=240", "!",
		"x264enc", "bframes=2", "key-int-max=60", "speed-preset=ultrafast", "!", "h264parse", "!",
		"flvmux", "streamable=true", "!", "rtmp2sink", "location=" + url}
}

// TestLive_BFramesFollowKeyframes: with B-frames, segments follow the
// encoder's 2 s keyframes over RTMP as over RTSP. Before the fix RTMP gave
// TARGETDURATION:4 and 4 s segments: FLV's millisecond timestamps, put back
// on the frame grid with a step truncated to whole nanoseconds, placed every
// keyframe 20 ns short of 2 s, and GStreamer's clamped decode times put the
// second keyframe 67 ms short; the cut rule compared decode times to the
// target exactly.
func TestLive_BFramesFollowKeyframes(t *testing.T) {
	needTools(t, "ffmpeg")
	// 9 s at 30 fps, a keyframe every 60 frames, two B-frames: what OBS sends.
	enc := []string{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60", "-bf", "2"}
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"}
	cases := []struct {
		name string
		tool string
		args func(a *app) []string
	}{
		{"ffmpeg rtmp", "ffmpeg", func(a *app) []string {
			return ffmpegArgs("", src, enc, []string{"-t", "9"}, rtmpOut(a.rtmpURL("main", testKey)))
		}},
		{"ffmpeg rtsp", "ffmpeg", func(a *app) []string {
			return ffmpegArgs("", src, enc, []string{"-t", "9"}, rtspOut(a.rtspURL("main", testKey)))
		}},
		{"gstreamer flvmux rtmp", "gst-launch-1.0", func(a *app) []string {
			return gstRTMP(a.rtmpURL("main", testKey), 270)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			needTools(t, tc.tool)
			a := testApp(t, func(c *Config) { c.SegmentDuration = 2 * time.Second; c.Window = 20 * time.Second })
			pub := startProc(t, tc.tool, tc.args(a)...)
			if err := pub.wait(t, 60*time.Second); err != nil {
				t.Fatalf("%s: %v\n%s", tc.tool, err, pub.stderr.String())
			}
			pl := finishedPlaylist(t, a, "main", 8.5)
			var durs []string
			for _, s := range pl.Segments {
				durs = append(durs, fmt.Sprintf("%.3f", s.Duration))
			}
			t.Logf("TARGETDURATION:%d, segments %s", pl.TargetDuration, strings.Join(durs, " "))
			if pl.TargetDuration != 2 {
				t.Errorf("TARGETDURATION:%d, want 2", pl.TargetDuration)
			}
			// Every segment but the last (the end of the publish) lasts one
			// GOP: 2 s, less the 67 ms GStreamer's clamp takes off the first.
			if len(pl.Segments) < 5 {
				t.Fatalf("%d segments for 9 s of 2 s GOPs, want 5: %s", len(pl.Segments), strings.Join(durs, " "))
			}
			for i, s := range pl.Segments[:len(pl.Segments)-1] {
				if s.Duration < 1.9 || s.Duration > 2.01 {
					t.Errorf("segment %d lasts %.3f s, want one 2 s GOP", i, s.Duration)
				}
			}
		})
	}
}
