package playlist

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gohlslib "github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/salon/salon/internal/testkit"
)

// benchLL is the benchmark's playlist: 10 segments of 10 parts.
func benchLL() *Media {
	m := &Media{
		TargetDuration: 2 * time.Second, MediaSequence: 1000, IndependentSegments: true,
		ServerControl: &ServerControl{CanBlockReload: true, CanSkipUntil: 12 * time.Second, PartHoldBack: 600 * ms},
		PartTarget:    200 * ms,
		Parts:         llParts(1010, 3),
		PreloadHint:   &PreloadHint{URI: "part-1010-3.m4s"},
		RenditionReports: []RenditionReport{
			{URI: "../source/index.m3u8", LastMSN: 1009, LastPart: 2},
			{URI: "../360p/index.m3u8", LastMSN: 1010, LastPart: 0},
		},
	}
	for i := range 10 {
		m.Segments = append(m.Segments, Segment{URI: itoa(1000+i) + ".m4s", Duration: 2 * time.Second, Map: "init-0.mp4",
			DateTime: t0.Add(time.Duration(i) * 2 * time.Second), Parts: llParts(1000+i, 10)})
	}
	return m
}

// TestMedia_gohlslib: gohlslib's playlist decoder, an independent reader
// written for LL-HLS clients, reads every Low-Latency playlist the writer
// makes and finds the same segments, parts, hint and reports.
func TestMedia_gohlslib(t *testing.T) {
	withMapChange := llLive()
	withMapChange.Segments[1].Discontinuity = true
	withMapChange.Segments[1].Map = "init-1.mp4"
	for name, m := range map[string]*Media{
		"ll": llLive(), "delta": deltaUpdate(), "bench": benchLL(), "map change": withMapChange,
		"classic": classicLive(), "vod": vodCut(),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			pl, err := gohlslib.Unmarshal(b)
			if err != nil {
				t.Fatalf("gohlslib: %v\n%s", err, b)
			}
			g, ok := pl.(*gohlslib.Media)
			if !ok {
				t.Fatalf("gohlslib reads a %T", pl)
			}
			if len(g.Segments) != len(m.Segments) || g.MediaSequence != int(m.MediaSequence) || g.Endlist != m.Ended {
				t.Fatalf("gohlslib: %d segments from %d, ended %v", len(g.Segments), g.MediaSequence, g.Endlist)
			}
			for i, s := range m.Segments {
				gs := g.Segments[i]
				// gohlslib reads durations through a float64.
				if gs.URI != s.URI || (gs.Duration-s.Duration).Abs() > time.Microsecond || gs.Discontinuity != s.Discontinuity || len(gs.Parts) != len(s.Parts) ||
					(gs.DateTime == nil) != s.DateTime.IsZero() || (gs.DateTime != nil && !gs.DateTime.Equal(s.DateTime)) {
					t.Fatalf("segment %d: gohlslib %+v, written %+v", i, gs, s)
				}
				for j, p := range s.Parts {
					gp := gs.Parts[j]
					if gp.URI != p.URI || gp.Duration != p.Duration || gp.Independent != p.Independent {
						t.Fatalf("segment %d part %d: gohlslib %+v, written %+v", i, j, gp, p)
					}
				}
			}
			if len(g.Parts) != len(m.Parts) {
				t.Fatalf("gohlslib: %d parts in progress, written %d", len(g.Parts), len(m.Parts))
			}
			if m.PartTarget != 0 && (g.PartInf == nil || g.PartInf.PartTarget != m.PartTarget) {
				t.Fatalf("gohlslib part target %+v", g.PartInf)
			}
			if sc := m.ServerControl; sc != nil {
				gc := g.ServerControl
				if gc == nil || gc.CanBlockReload != sc.CanBlockReload || gc.PartHoldBack == nil || *gc.PartHoldBack != sc.PartHoldBack ||
					gc.CanSkipUntil == nil || *gc.CanSkipUntil != sc.CanSkipUntil {
					t.Fatalf("gohlslib server control %+v", gc)
				}
			}
			if h := m.PreloadHint; h != nil && (g.PreloadHint == nil || g.PreloadHint.URI != h.URI) {
				t.Fatalf("gohlslib preload hint %+v", g.PreloadHint)
			}
			if m.Skipped > 0 && (g.Skip == nil || g.Skip.SkippedSegments != int(m.Skipped)) {
				t.Fatalf("gohlslib skip %+v", g.Skip)
			}
			if len(g.RenditionReport) != len(m.RenditionReports) {
				t.Fatalf("gohlslib: %d rendition reports", len(g.RenditionReport))
			}
			for i, r := range m.RenditionReports {
				gr := g.RenditionReport[i]
				if gr.URI != r.URI || gr.LastMSN != int(r.LastMSN) || gr.LastPart == nil || *gr.LastPart != r.LastPart {
					t.Fatalf("rendition report %d: gohlslib %+v", i, gr)
				}
			}
		})
	}
}

func TestMultivariant_gohlslib(t *testing.T) {
	b, err := twoRenditions().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := gohlslib.Unmarshal(b)
	if err != nil {
		t.Fatalf("gohlslib: %v\n%s", err, b)
	}
	g, ok := pl.(*gohlslib.Multivariant)
	if !ok || len(g.Variants) != 2 || len(g.Renditions) != 2 {
		t.Fatalf("gohlslib reads %+v", pl)
	}
	v := g.Variants[1]
	if v.URI != "360p/index.m3u8" || v.Bandwidth != 800_000 || v.Resolution != "640x360" || strings.Join(v.Codecs, ",") != "avc1.64001e,mp4a.40.2" {
		t.Fatalf("gohlslib variant %+v", v)
	}
	if r := g.Renditions[0]; r.Name != "中文" || r.GroupID != "subs" || r.URI == nil || *r.URI != "subs/zh.m3u8" || !r.Default {
		t.Fatalf("gohlslib rendition %+v", r)
	}
}

// TestMedia_ffprobe writes, with this package, a VOD playlist over real fMP4
// segments made by ffmpeg, as salon lists two runs: the second half of the
// segments under another init segment (a copy), after EXT-X-DISCONTINUITY
// and a new EXT-X-MAP, every segment with a program date-time. ffprobe must
// decode every frame and fetch the second init segment.
//
// The decode timeline continues across the change, as it does across
// salon's runs: ffmpeg's HLS demuxer drops a segment's worth of frames when
// timestamps start over after a discontinuity, and keeps the decoder
// configuration of the first init segment.
func TestMedia_ffprobe(t *testing.T) {
	ffmpeg := testkit.Tool(t, "ffmpeg")
	ffprobe := testkit.Tool(t, "ffprobe")
	dir := t.TempDir()
	const fps, secs = 25, 8
	cmd := exec.CommandContext(t.Context(), ffmpeg, "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate="+strconv.Itoa(fps), "-t", strconv.Itoa(secs),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", strconv.Itoa(fps), "-sc_threshold", "0",
		"-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
		"-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "%d.m4s", "ffmpeg.m3u8")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	data, err := os.ReadFile(filepath.Join(dir, "ffmpeg.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := ParseMedia(data)
	if err != nil {
		t.Fatalf("ffmpeg's playlist: %v\n%s", err, data)
	}
	if len(in.Segments) != secs || !in.Ended || in.Segments[0].Map != "init.mp4" {
		t.Fatalf("ffmpeg's playlist read as %+v", in)
	}
	init, err := os.ReadFile(filepath.Join(dir, "init.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "init-1.mp4"), init, 0o644); err != nil {
		t.Fatal(err)
	}
	out := &Media{Type: TypeVOD, IndependentSegments: true, Ended: true}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, s := range in.Segments {
		if i >= secs/2 {
			s.Map, s.Discontinuity = "init-1.mp4", i == secs/2
		}
		s.DateTime = start
		start = start.Add(s.Duration)
		out.Segments = append(out.Segments, s)
	}
	pl, err := out.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(pl), "#EXT-X-MAP:") != 2 || strings.Count(string(pl), "#EXT-X-DISCONTINUITY\n") != 1 {
		t.Fatalf("expected two maps and one discontinuity:\n%s", pl)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.m3u8"), pl, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	probe := exec.CommandContext(t.Context(), ffprobe, "-v", "verbose", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", filepath.Join(dir, "index.m3u8"))
	probe.Stdout, probe.Stderr = &stdout, &stderr
	if err := probe.Run(); err != nil {
		t.Fatalf("ffprobe: %v\n%s\n%s", err, stderr.Bytes(), pl)
	}
	// The stream may be listed twice (under the program and alone).
	if got, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), "\n"); got != strconv.Itoa(fps*secs) {
		t.Fatalf("ffprobe decoded %q frames, want %d\n%s\n%s", got, fps*secs, pl, stderr.Bytes())
	}
	if !strings.Contains(stderr.String(), "init-1.mp4' for reading") {
		t.Fatalf("ffprobe did not open the second init segment:\n%s", stderr.Bytes())
	}
}
