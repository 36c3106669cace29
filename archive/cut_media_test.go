package archive

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
)

// TestCut_RealMedia records a real run with ffmpeg (fMP4 HLS with program
// date-times, as the bucket contract lays it out), cuts a window from it, and
// has ffprobe and ffmpeg read the talk's playlist straight from the
// DirStore's directory, relative URIs and all.
func TestCut_RealMedia(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed; install it (apt-get install ffmpeg) to run the real-media cut test")
	}
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe is not installed; install it (apt-get install ffmpeg) to run the real-media cut test")
	}
	s := libStore(t)
	run := time.Now().UTC().Format(runNameLayout)
	dir := filepath.Join(s.Root, "stages", "main", run)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), ffmpeg, "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
		"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init-0.mp4",
		"-hls_segment_filename", "%d.m4s", "-hls_flags", "program_date_time", "index.m3u8")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	rp, err := readRunPlaylist(t.Context(), s, "stages/main/"+run+"/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Segments) < 10 || rp.Skipped > 0 || !rp.Ended {
		t.Fatalf("ffmpeg's run playlist: %d segments, %d skipped, ended %v", len(rp.Segments), rp.Skipped, rp.Ended)
	}
	first := rp.Segments[0].Start
	segDur := rp.Segments[1].Duration
	// From the start of segment 3 to the middle of segment 8.
	win := &Window{Start: rp.Segments[3].Start, End: libPtr(rp.Segments[8].Start.Add(segDur / 2))}
	talk := Talk{ID: "real", Title: "Real", Stage: "main", Recording: win}
	pl, err := Cut(t.Context(), s, talk)
	if err != nil {
		t.Fatal(err)
	}
	p, err := hlscheck.CheckMediaPlaylist(pl)
	if err != nil {
		t.Fatalf("%v\n%s", err, pl)
	}
	if p.PlaylistType != "VOD" || !p.EndList {
		t.Fatalf("not a finished replay:\n%s", pl)
	}
	t.Logf("run starts %s; window %s – %s\n%s", first.Format(time.RFC3339Nano), win.Start.Format(time.RFC3339Nano), win.End.Format(time.RFC3339Nano), pl)

	talkPlaylist := filepath.Join(s.Root, "talks", "real", "index.m3u8")
	out, err := exec.CommandContext(t.Context(), ffprobe, "-v", "error", "-show_entries", "format=duration",
		"-of", "default=noprint_wrappers=1:nokey=1", talkPlaylist).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	got, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", out, err)
	}
	want := win.End.Sub(win.Start).Seconds()
	if math.Abs(got-want) > segDur.Seconds()+0.1 {
		t.Fatalf("ffprobe says the replay lasts %.3fs; the window is %.3fs (segments of %s)", got, want, segDur)
	}
	// Every frame of the replay decodes.
	if out, err := exec.CommandContext(t.Context(), ffmpeg, "-nostdin", "-v", "error", "-i", talkPlaylist, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("decoding the replay: %v\n%s", err, out)
	}
}
