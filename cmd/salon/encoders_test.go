package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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

// TestTalk_DownloadStartsAtZero: a talk that starts well into a run
// downloads as an MP4 that starts at 0 and lasts the talk. Before the fix
// ffprobe reported the run's time as the start ("start: 67.97") and the run's
// time plus the talk as the duration, and VLC showed no length.
func TestTalk_DownloadStartsAtZero(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	a := testApp(t)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	// Let the run's timeline get well past 0 before the talk starts.
	waitSegments(t, a, "main", 8, 60*time.Second)

	code, talk := api(t, a, "POST", "/api/talks", `{"title":"从零开始","speakers":[{"name":"Ada"}],"stage":"main"}`)
	if code != 201 {
		t.Fatalf("create talk: %d %v", code, talk)
	}
	id := talk["id"].(string)
	if code, m := api(t, a, "POST", "/api/talks/"+id+"/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
	startSeg := lastSegment(t, string(body))
	for deadline := time.Now().Add(60 * time.Second); ; {
		_, body, _ = get(t, a.httpURL("/live/main/index.m3u8"))
		if lastSegment(t, string(body)) >= startSeg+6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stage stopped growing:\n%s", body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	code, stopped := api(t, a, "POST", "/api/talks/"+id+"/stop", "")
	if code != 200 {
		t.Fatalf("stop: %d %v", code, stopped)
	}
	window := stopped["recording"].(map[string]any)
	start, _ := time.Parse(time.RFC3339Nano, window["start"].(string))
	end, _ := time.Parse(time.RFC3339Nano, window["end"].(string))
	want := end.Sub(start).Seconds()

	// Wait until the stored recording covers the talk: the replay is VOD.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, body, _ := get(t, a.httpURL("/archive/talks/"+id+"/index.m3u8"))
		if strings.Contains(string(body), "#EXT-X-ENDLIST") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay is not VOD 30 s after stop:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, mp4, _ := get(t, a.httpURL("/talks/"+id+"/download.mp4"))
	if code != 200 || len(mp4) < 10000 {
		t.Fatalf("download: %d, %d bytes", code, len(mp4))
	}
	path := tempFile(t, "talk.mp4", mp4)
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=start_time,duration", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var st, dur float64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%f,%f", &st, &dur); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	t.Logf("talk window %.2f s; MP4 start %.3f s, duration %.3f s", want, st, dur)
	if st < 0 || st > 0.2 {
		t.Errorf("the MP4 starts at %.3f s, want 0", st)
	}
	// Whole segments (1 s here) around the window: within one segment each side.
	if dur < want-1.1 || dur > want+2.1 {
		t.Errorf("the MP4 lasts %.2f s, the talk %.2f s", dur, want)
	}
	checkMP4DecodesAcrossRuns(t, path)
}

// stageVideoSize reads the first video track's resolution from /api/stages.
func stageVideoSize(t *testing.T, a *app, stage string) (w, h int, live bool) {
	t.Helper()
	_, body, _ := get(t, a.httpURL("/api/stages"))
	var stages []struct {
		Name   string `json:"name"`
		Live   bool   `json:"live"`
		Tracks []struct {
			Kind   string `json:"kind"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
		} `json:"tracks"`
	}
	if err := json.Unmarshal(body, &stages); err != nil {
		t.Fatalf("/api/stages: %v\n%s", err, body)
	}
	for _, s := range stages {
		if s.Name != stage {
			continue
		}
		for _, tr := range s.Tracks {
			if tr.Kind == "video" {
				return tr.Width, tr.Height, s.Live
			}
		}
	}
	return 0, 0, false
}

// TestLive_StagesAPIFollowsResolutionChange: a camera that changes its
// resolution mid-stream (a new SPS in-band, as ffmpeg copies it from a
// bytestream of two encodes) shows the new one in /api/stages. Before the fix
// the API kept the resolution of the SDP for the whole publish.
func TestLive_StagesAPIFollowsResolutionChange(t *testing.T) {
	needTools(t, "ffmpeg")
	dir := t.TempDir()
	var stream []byte
	for i, size := range []string{"320x240", "160x120"} {
		secs := []string{"3", "60"}[i]
		out := fmt.Sprintf("%s/%d.h264", dir, i)
		enc := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30", "-t", secs,
			"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-bf", "0", "-pix_fmt", "yuv420p",
			"-bsf:v", "dump_extra=freq=keyframe", "-f", "h264", out)
		if b, err := enc.CombinedOutput(); err != nil {
			t.Fatalf("encode %s: %v\n%s", size, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	file := tempFile(t, "change.h264", stream)
	a := testApp(t)
	startProc(t, "ffmpeg", "-hide_banner", "-v", "error", "-re", "-fflags", "+genpts", "-framerate", "30", "-f", "h264", "-i", file,
		"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", a.rtspURL("main", testKey))
	waitSegments(t, a, "main", 1, 30*time.Second)
	if w, h, _ := stageVideoSize(t, a, "main"); w != 320 || h != 240 {
		t.Fatalf("/api/stages shows %dx%d before the change, want 320x240", w, h)
	}
	for deadline := time.Now().Add(40 * time.Second); ; {
		w, h, live := stageVideoSize(t, a, "main")
		if w == 160 && h == 120 {
			break
		}
		if !live || time.Now().After(deadline) {
			t.Fatalf("/api/stages still shows %dx%d (live %v) long after the camera switched to 160x120", w, h, live)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The live playlist follows too, with a new init segment.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
		if strings.Contains(string(body), "init-1.mp4") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new init segment after the change:\n%s", body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// gstLATM publishes live H.264 and AAC with GStreamer over RTSP; the AAC
// carries avenc_aac's AudioSpecificConfig (120856e500, with the SBR sync
// extension), so rtspclientsink sends it as MP4A-LATM with that config.
// audioBuffers bounds the audio (1024 samples each at 44.1 kHz).
func gstLATM(url string, videoFrames, audioBuffers int) []string {
	return []string{"-q",
		"rtspclientsink", "name=s", "protocols=tcp", "location=" + url,
		"videotestsrc", "is-live=true", fmt.Sprintf("num-buffers=%d", videoFrames), "!", "video/x-raw,width=320,height=240,framerate=25/1", "!",
		"x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=25", "!", "h264parse", "!", "s.sink_0",
		"audiotestsrc", "is-live=true", fmt.Sprintf("num-buffers=%d", audioBuffers), "!", "audio/x-raw,rate=44100,channels=1", "!",
		"voaacenc", "!", "capssetter", "caps=audio/mpeg,codec_data=(buffer)120856e500", "!", "s.sink_1",
	}
}

type stageState struct {
	Name     string   `json:"name"`
	Live     bool     `json:"live"`
	Warnings []string `json:"warnings"`
	Tracks   []struct {
		Kind    string `json:"kind"`
		Codec   string `json:"codec"`
		Bitrate int64  `json:"bitrate"`
	} `json:"tracks"`
}

func stageOf(t *testing.T, a *app, name string) stageState {
	t.Helper()
	_, body, _ := get(t, a.httpURL("/api/stages"))
	var stages []stageState
	if err := json.Unmarshal(body, &stages); err != nil {
		t.Fatalf("/api/stages: %v\n%s", err, body)
	}
	for _, s := range stages {
		if s.Name == name {
			return s
		}
	}
	return stageState{}
}

// TestLive_GStreamerAACWithSBRExtension: GStreamer's avenc_aac over RTSP
// used to lose all audio without a word (issue 13, finding 14). Now the AAC
// flows into the live playlist; and an audio track that stops while the
// video goes on gets a warning in /api/stages.
func TestLive_GStreamerAACWithSBRExtension(t *testing.T) {
	needTools(t, "gst-launch-1.0", "ffprobe")
	for _, el := range []string{"voaacenc", "capssetter", "rtspclientsink", "x264enc"} {
		if exec.Command("gst-inspect-1.0", el).Run() != nil {
			t.Skipf("GStreamer element %s is missing", el)
		}
	}
	t.Run("audio flows", func(t *testing.T) {
		a := testApp(t)
		startProc(t, "gst-launch-1.0", gstLATM(a.rtspURL("main", testKey), 25*60, 44100*60/1024)...)
		waitSegments(t, a, "main", 4, 40*time.Second)
		if got := codecsOf(ffprobe(t, a.httpURL("/live/main/index.m3u8"))); !strings.Contains(got, "aac") {
			t.Fatalf("the live playlist has no AAC: %s", got)
		}
		s := stageOf(t, a, "main")
		for _, tr := range s.Tracks {
			if tr.Kind == "audio" && tr.Bitrate <= 0 {
				t.Errorf("the audio track has bitrate %d", tr.Bitrate)
			}
		}
		if len(s.Warnings) > 0 {
			t.Errorf("warnings: %q", s.Warnings)
		}
	})
	t.Run("audio stops, the stage says so", func(t *testing.T) {
		a := testApp(t)
		// One second of audio, a minute of video.
		startProc(t, "gst-launch-1.0", gstLATM(a.rtspURL("main", testKey), 25*60, 43)...)
		waitSegments(t, a, "main", 1, 40*time.Second)
		for deadline := time.Now().Add(40 * time.Second); ; {
			s := stageOf(t, a, "main")
			if w := strings.Join(s.Warnings, "; "); strings.Contains(w, "audio track (AAC) stopped") {
				t.Logf("warning: %s", w)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no warning 40 s after the audio stopped: %+v", s)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}

// TestTalk_DownloadAcrossRestart: a talk during which the publisher drops
// and comes back with the same settings downloads as one MP4 that holds both
// parts, starts at 0 and decodes cleanly: the second run reuses the first's
// init segment and continues its timeline (findings 16 and 17 together).
func TestTalk_DownloadAcrossRestart(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	a := testApp(t)
	args := ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))
	pub := startProc(t, "ffmpeg", args...)
	waitSegments(t, a, "main", 3, 60*time.Second)
	code, talk := api(t, a, "POST", "/api/talks", `{"title":"断线重连","stage":"main"}`)
	if code != 201 {
		t.Fatalf("create talk: %d %v", code, talk)
	}
	id := talk["id"].(string)
	if code, m := api(t, a, "POST", "/api/talks/"+id+"/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	grow := func(n int) {
		t.Helper()
		_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
		from := lastSegment(t, string(body))
		for deadline := time.Now().Add(60 * time.Second); ; {
			_, body, _ = get(t, a.httpURL("/live/main/index.m3u8"))
			if lastSegment(t, string(body)) >= from+n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the stage stopped growing:\n%s", body)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	grow(3)
	pub.kill()
	for deadline := time.Now().Add(30 * time.Second); a.reg.Live("main"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still live 30 s after the publisher was killed")
		}
	}
	startProc(t, "ffmpeg", args...)
	grow(4)
	if code, m := api(t, a, "POST", "/api/talks/"+id+"/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	var pl string
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, body, _ := get(t, a.httpURL("/archive/talks/"+id+"/index.m3u8"))
		pl = string(body)
		if strings.Contains(pl, "#EXT-X-ENDLIST") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay is not VOD 30 s after stop:\n%s", pl)
		}
		time.Sleep(200 * time.Millisecond)
	}
	replay, err := hlscheck.CheckMediaPlaylist([]byte(pl))
	if err != nil {
		t.Fatalf("%v\n%s", err, pl)
	}
	if len(replay.MapURIs()) < 2 {
		t.Fatalf("the replay does not span two runs:\n%s", pl)
	}
	code, mp4, hdr := get(t, a.httpURL("/talks/"+id+"/download.mp4"))
	if code != 200 || hdr.Get("X-Salon-Parts-Skipped") != "" {
		t.Fatalf("download: %d, parts skipped %q", code, hdr.Get("X-Salon-Parts-Skipped"))
	}
	path := tempFile(t, "talk.mp4", mp4)
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=start_time,duration", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var st, dur float64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%f,%f", &st, &dur); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	want := replay.Duration()
	// The video frames in the file: every one of the replay's (30 fps).
	// The file's own length can be longer than the playlist's: when the
	// publisher dies, its audio may have run ahead of its video (a loaded
	// encoder), and the next run starts after the audio, so the video has
	// a gap there that the playlist's durations (video) do not count.
	out, err = exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var frames float64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%f", &frames); err != nil {
		t.Fatalf("ffprobe frame count %q: %v", out, err)
	}
	t.Logf("replay segments %.2f s over %d runs; MP4 start %.3f s, duration %.3f s, %.0f video frames (%.2f s at 30 fps)",
		want, len(replay.MapURIs()), st, dur, frames, frames/30)
	if st < 0 || st > 0.2 || frames/30 < want-0.5 || frames/30 > want+0.5 || dur < want-0.5 || dur > want+1.5 {
		t.Errorf("the MP4 starts at %.3f s, lasts %.2f s and holds %.2f s of video; want 0, and the replay's %.2f s of video", st, dur, frames/30, want)
	}
	checkMP4DecodesAcrossRuns(t, path)
}

// checkMP4DecodesAcrossRuns decodes the MP4 at path with ffmpeg and fails on
// any complaint but one. Known defect, not yet fixed: where the second run
// joins the first, ffmpeg sometimes sees a decode time repeated (the new
// run's first frame on the previous run's last), about one run in two on a
// loaded machine. It decodes and plays through; it is logged here, and any
// other complaint fails the test.
func checkMP4DecodesAcrossRuns(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("the MP4 does not decode: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case line == "":
		case strings.Contains(line, "non monotonically increasing dts"):
			t.Logf("known defect at the run junction: %s", line)
		default:
			t.Errorf("the MP4 does not decode cleanly: %s\n%s", line, out)
		}
	}
}
