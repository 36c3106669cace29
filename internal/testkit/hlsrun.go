package testkit

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HLSRun is a stage run made by ffmpeg, faster than real time, in the
// bucket's layout (init-0.mp4, {seq}.m4s, index.m3u8 with
// EXT-X-PROGRAM-DATE-TIME on every segment): a recording to cut replays
// from without publishing for minutes.
type HLSRun struct {
	Dir      string   // the files, on disk
	Files    []string // their names, the playlist last
	Name     string   // the run's name: its start, "20261202T110000Z"
	Start    time.Time
	Duration time.Duration // the sum of the segments' durations
}

// HLSRunOptions shape the run. Zero values take the defaults.
type HLSRunOptions struct {
	Seconds int    // length; default 20
	Size    string // WIDTHxHEIGHT; default 320x180
	// Bitrate, e.g. "20M", makes a large recording: the picture is noise
	// so that the encoder cannot help reaching it. Default: a small one.
	Bitrate string
	Segment int // target segment length, seconds; default 2
}

// MakeHLSRun runs ffmpeg (skipping the test when it is missing) and returns
// the run it wrote into a temporary directory. The picture shows a clock,
// the sound is a tone, keyframes every second.
func MakeHLSRun(t testing.TB, o HLSRunOptions) HLSRun {
	t.Helper()
	bin := NeedTool(t, "ffmpeg")
	if o.Seconds == 0 {
		o.Seconds = 20
	}
	if o.Size == "" {
		o.Size = "320x180"
	}
	if o.Segment == 0 {
		o.Segment = 2
	}
	dir := t.TempDir()
	start := time.Now().UTC().Truncate(time.Second)
	video := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	src := "testsrc2=size=" + o.Size + ":rate=25"
	if o.Bitrate != "" {
		src += ",noise=alls=60:allf=t"
		video = append(video, "-b:v", o.Bitrate, "-maxrate", o.Bitrate, "-bufsize", o.Bitrate)
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", src, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(o.Seconds)}
	args = append(args, video...)
	args = append(args, "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k",
		"-f", "hls", "-hls_time", strconv.Itoa(o.Segment), "-hls_playlist_type", "vod",
		"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init-0.mp4",
		"-hls_segment_filename", "%d.m4s", "-hls_flags", "program_date_time", "index.m3u8")
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	run := HLSRun{Dir: dir, Name: start.Format("20060102T150405Z")}
	f, err := os.Open(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"); ok && run.Start.IsZero() {
			// ffmpeg writes the zone as +0000, which RFC 3339 spells +00:00.
			ts, err := time.Parse("2006-01-02T15:04:05.000Z0700", v)
			if err != nil {
				t.Fatalf("ffmpeg's program date-time %q: %v", v, err)
			}
			run.Start = ts.UTC()
		}
		if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			secs, err := strconv.ParseFloat(strings.TrimSuffix(strings.SplitN(v, ",", 2)[0], ","), 64)
			if err != nil {
				t.Fatalf("ffmpeg's EXTINF %q: %v", v, err)
			}
			run.Duration += time.Duration(secs * float64(time.Second))
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			run.Files = append(run.Files, line)
		}
	}
	if run.Start.IsZero() || len(run.Files) == 0 {
		t.Fatal("ffmpeg wrote a run playlist without program date-times or segments")
	}
	run.Files = append([]string{"init-0.mp4"}, run.Files...)
	run.Files = append(run.Files, "index.m3u8")
	return run
}
