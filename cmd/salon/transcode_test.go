package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/salon/salon/transcode"
)

// TestTranscode_EndToEnd: salon -transcode 480p with a 1080p publisher. The
// stage's playlist becomes multivariant with the 480p rendition that salon's
// own ffmpeg child publishes back to its RTSP ingest; ffprobe reads both;
// the rendition anchors on the source's keyframes (no misalignment
// warning). Killing the child (its pid from the transcoder) brings it back
// while the source's playlist keeps growing.
func TestTranscode_EndToEnd(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	rs, err := transcode.ParseRenditions("480p")
	if err != nil {
		t.Fatal(err)
	}
	// The source is encoded ahead and sent as is, paced by -re: an encoder
	// that keeps real time whatever the load (a loaded machine's live 1080p
	// encode falls behind, and arrival times then drift from media times).
	clip := encodedClip(t, "1920x1080", 6)
	a, logs := testAppLog(t, func(c *Config) { c.Transcode.Renditions = rs })
	startProc(t, "ffmpeg", ffmpegArgs("",
		[]string{"-re", "-stream_loop", "-1", "-i", clip, "-c", "copy"},
		rtspOut(a.rtspURL("main", testKey)))...)

	// 1. The multivariant playlist lists the rendition.
	var master string
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
		master = string(body)
		if strings.Contains(master, "#EXT-X-STREAM-INF") && strings.Contains(master, "480p/index.m3u8") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 480p variant in /live/main/index.m3u8:\n%s\nlog:\n%s", master, logs.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !regexp.MustCompile(`RESOLUTION=85[24]x480`).MatchString(master) || !strings.Contains(master, "RESOLUTION=1920x1080") {
		t.Errorf("multivariant playlist without both resolutions:\n%s", master)
	}
	waitRenditionSegments(t, a, "480p", 3)

	// 2. ffprobe reads the stage through the multivariant playlist: both
	// variants' video.
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,height",
		"-of", "csv=p=0", a.httpURL("/live/main/index.m3u8")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "h264,480") || !strings.Contains(string(out), "h264,1080") {
		t.Errorf("ffprobe sees %q, want H.264 at 480 and 1080 lines", out)
	}

	// 3. Aligned: the rendition anchored on a source keyframe, and no
	// misalignment warning once segments were compared.
	checkAligned := func(when string) {
		t.Helper()
		for _, s := range a.reg.Stages() {
			for _, w := range s.Warnings {
				if w.Rendition == "480p" {
					t.Errorf("%s: stage %s warns %+v", when, s.Name, w)
				}
			}
		}
		if strings.Contains(logs.String(), "not aligned") {
			t.Errorf("%s: misalignment logged", when)
		}
	}
	checkAligned("first child")
	if n := strings.Count(logs.String(), "snapped_to_source_keyframe=true"); n < 1 {
		t.Errorf("the rendition did not anchor on a source keyframe")
	}

	// 4. Kill the child: it comes back; the source never stops.
	st, ok := a.transcoder.State("main")
	if !ok || !st.Running {
		t.Fatalf("transcoder state %+v", st)
	}
	_, body, _ := get(t, a.httpURL("/live/main/source/index.m3u8"))
	srcBefore := lastSegment(t, string(body))
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(90 * time.Second)
	for {
		now, _ := a.transcoder.State("main")
		if now.Running && now.PID != st.PID {
			if now.Restarts != 1 {
				t.Errorf("restarts %d, want 1", now.Restarts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child did not come back: %+v", now)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitRenditionSegments(t, a, "480p", 3)
	// The API shows the restart: running again, one restart, the exit.
	_, body, _ = get(t, a.httpURL("/api/stages/main"))
	var api struct {
		Transcode *struct {
			Running  bool   `json:"running"`
			Restarts int    `json:"restarts"`
			LastExit string `json:"last_exit"`
		} `json:"transcode"`
	}
	if err := json.Unmarshal(body, &api); err != nil || api.Transcode == nil {
		t.Errorf("/api/stages/main has no transcode state: %v, %s", err, body)
	} else if tc := api.Transcode; !tc.Running || tc.Restarts != 1 || tc.LastExit == "" {
		t.Errorf("/api/stages/main transcode %+v, want running after 1 restart with the last exit", *tc)
	}
	_, body, _ = get(t, a.httpURL("/live/main/source/index.m3u8"))
	if after := lastSegment(t, string(body)); after <= srcBefore {
		t.Errorf("the source's playlist did not grow while the child restarted: %d then %d", srcBefore, after)
	}
	if strings.Contains(logs.String(), `msg="publish ended" stage=main rendition=source`) {
		t.Errorf("the source's publish ended while the child restarted")
	}
	checkAligned("second child")
	if n := strings.Count(logs.String(), "snapped_to_source_keyframe=true"); n < 2 {
		t.Errorf("the second child's rendition did not anchor on a source keyframe (%d anchors snapped)", n)
	}
}

// encodedClip encodes a test clip (H.264 with a keyframe every second at
// 30 fps, AAC) of the given size and length into the test's directory.
func encodedClip(t *testing.T, size string, seconds int) string {
	t.Helper()
	clip := filepath.Join(t.TempDir(), "clip-"+size+".mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "96k", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("encode the test clip: %v\n%s", err, out)
	}
	return clip
}

// waitRenditionSegments waits until a rendition's playlist has n segments
// more than now (or n in all when it has none yet).
func waitRenditionSegments(t *testing.T, a *app, rendition string, n int) {
	t.Helper()
	url := a.httpURL("/live/main/" + rendition + "/index.m3u8")
	seg := regexp.MustCompile(`(?m)^(\d+)\.m4s$`)
	count := func() int {
		code, body, _ := getQuiet(url)
		if code != 200 {
			return -1
		}
		ms := seg.FindAllStringSubmatch(string(body), -1)
		if len(ms) == 0 {
			return -1
		}
		return lastSegment(t, string(body))
	}
	from := count()
	deadline := time.Now().Add(time.Duration(n)*10*time.Second + 60*time.Second)
	for count() < from+n || count() < 0 {
		if time.Now().After(deadline) {
			_, body, _ := getQuiet(url)
			t.Fatalf("rendition %s did not advance %d segments from %d:\n%s", rendition, n, from, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
