package hls

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/ingest/stream"
)

// renditionPair encodes the same test pattern twice, as one encoder's two
// outputs would: a 640x360 source and a 320x180 rendition, H.264 + AAC.
func renditionPair(t *testing.T, secs, srcGOP, renGOP string) (src, ren *media) {
	t.Helper()
	requireFFmpeg(t)
	enc := func(name, size, gop string) *media {
		args := []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=25", "-t", secs}
		args = append(args, audioIn()...)
		args = append(args, "-t", secs, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
			"-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k")
		md := load(t, encode(t, name, args...))
		withParams(md)
		return md
	}
	return enc("src.mp4", "640x360", srcGOP), enc("ren.mp4", "320x180", renGOP)
}

// publishPair feeds the source and the rendition as two publishes of one
// stage, interleaved by arrival. The rendition's stream clock starts 7 s
// later than the source's (another connection) and its units arrive lag
// after the source's units of the same frame. end ends both publishes.
func publishPair(m *Manager, src, ren *media, lag time.Duration, end bool) {
	const clockShift = 7 * time.Second
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: src.tracks, Start: t0}})
	m.HandleEvent(stream.Event{Stage: "main", Rendition: "360p", Start: &stream.Stream{Stage: "main", Rendition: "360p", Tracks: ren.tracks, Start: t0}})
	type ev struct {
		at        time.Time
		rendition string
		u         *stream.Unit
	}
	var evs []ev
	for _, u := range src.units {
		c := *u
		c.Received = t0.Add(u.DTS)
		evs = append(evs, ev{c.Received, "", &c})
	}
	for _, u := range ren.units {
		c := *u
		c.Received = t0.Add(u.DTS + lag)
		c.DTS += clockShift
		c.PTS += clockShift
		evs = append(evs, ev{c.Received, "360p", &c})
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	for _, e := range evs {
		m.HandleEvent(stream.Event{Stage: "main", Rendition: e.rendition, Unit: e.u})
	}
	if end {
		m.HandleEvent(stream.Event{Stage: "main", Rendition: "360p", End: true})
		m.HandleEvent(stream.Event{Stage: "main", End: true})
	}
}

func getRendition(t testing.TB, m *Manager, rendition, name string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, _, ok := m.RenditionFile(ctx, "main", rendition, name)
	if !ok {
		t.Fatalf("RenditionFile(main, %s, %s): not found", rendition, name)
	}
	return b
}

// segmentStarts maps each segment's PROGRAM-DATE-TIME to its first decode
// time (tfdt of the video track, in its timescale).
func segmentStarts(t *testing.T, m *Manager, rendition string, pl *hlscheck.Playlist) map[time.Time]uint64 {
	t.Helper()
	out := map[time.Time]uint64{}
	for _, s := range pl.Segments {
		parts := segmentParts(t, getRendition(t, m, rendition, s.URI))
		out[s.ProgramDateTime] = parts[0].Tracks[0].BaseTime
	}
	return out
}

// TestManager_renditionsAligned: a rendition whose encoder output shares the
// source's GOPs gets segments that start at the source's presentation times,
// with the same decode times and PROGRAM-DATE-TIMEs, so that a player
// switches at any boundary; the stage's playlist becomes a multivariant one
// that ffprobe reads with both variants, and no alignment warning is shown.
//
// lag is how much later the rendition's frames arrive than the source's:
// a few tens of milliseconds for one encoder's two outputs, most of a
// second for a transcoder's output; negative when the rendition comes over a
// faster connection than the source (RTMP beside RTSP), so that its
// keyframes arrive before the source's: it holds them until the source gets
// there.
func TestManager_renditionsAligned(t *testing.T) {
	src, ren := renditionPair(t, "12", "50", "50")
	for _, lag := range []time.Duration{35 * time.Millisecond, 700 * time.Millisecond, -30 * time.Millisecond, -600 * time.Millisecond} {
		t.Run(lag.String(), func(t *testing.T) { testRenditionsAligned(t, src, ren, lag) })
	}
}

func testRenditionsAligned(t *testing.T, src, ren *media, lag time.Duration) {
	var warns warningRecorder
	logs := &countingHandler{}
	m := newTestManager(t, &Manager{Warnings: &warns, Log: slog.New(logs)})
	publishPair(m, src, ren, lag, false)

	body := get(t, m, "main", PlaylistName)
	mp, err := hlscheck.CheckMultivariantPlaylist(body)
	if err != nil || !playlist.IsMultivariant(body) {
		t.Fatalf("stage playlist is not multivariant (%v):\n%s", err, body)
	}
	if len(mp.Variants) != 2 {
		t.Fatalf("%d variants, want 2:\n%s", len(mp.Variants), body)
	}
	want := []struct {
		uri  string
		w, h int
	}{{"source/index.m3u8", 640, 360}, {"360p/index.m3u8", 320, 180}}
	for i, v := range mp.Variants {
		if v.URI != want[i].uri || v.Width != want[i].w || v.Height != want[i].h || v.Bandwidth == 0 || v.AverageBandwidth == 0 ||
			len(v.Codecs) != 2 || !strings.HasPrefix(v.Codecs[0], "avc1.") || v.Codecs[1] != "mp4a.40.2" {
			t.Errorf("variant %d = %+v, want %s at %dx%d with bandwidth and codecs", i, v, want[i].uri, want[i].w, want[i].h)
		}
	}
	if mp.Variants[0].Bandwidth <= mp.Variants[1].Bandwidth {
		t.Errorf("source bandwidth %d not above the rendition's %d", mp.Variants[0].Bandwidth, mp.Variants[1].Bandwidth)
	}

	// Segments start at the same times on both, decode times included.
	lists := map[string]*hlscheck.Playlist{}
	for _, r := range []string{"source", "360p"} {
		pl, err := hlscheck.CheckMediaPlaylist(getRendition(t, m, r, PlaylistName))
		if err != nil {
			t.Fatalf("%s playlist: %v", r, err)
		}
		lists[r] = pl
	}
	srcStarts := segmentStarts(t, m, "source", lists["source"])
	renStarts := segmentStarts(t, m, "360p", lists["360p"])
	matched := 0
	for pdt, tfdt := range renStarts {
		st, ok := srcStarts[pdt]
		if !ok {
			continue
		}
		matched++
		if st != tfdt {
			t.Errorf("segment at %s: decode time %d on the rendition, %d on the source", pdt.Format(time.RFC3339Nano), tfdt, st)
		}
	}
	if matched < len(renStarts)-1 || matched < 3 {
		t.Errorf("only %d of the rendition's %d segments start where a source segment does\nsource: %v\nrendition: %v",
			matched, len(renStarts), srcStarts, renStarts)
	}
	warns.mu.Lock()
	if msg := warns.last["main/360p/align"]; msg != "" {
		t.Errorf("alignment warning on aligned GOPs: %q", msg)
	}
	warns.mu.Unlock()

	// ffprobe reads the multivariant playlist with both variants as programs.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, PlaylistName), body)
	for r, pl := range lists {
		if err := os.MkdirAll(filepath.Join(dir, r), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range append(pl.MapURIs(), pl.URIs()...) {
			writeFile(t, filepath.Join(dir, r, name), getRendition(t, m, r, name))
		}
		writeFile(t, filepath.Join(dir, r, PlaylistName), append(getRendition(t, m, r, PlaylistName), "#EXT-X-ENDLIST\n"...))
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "program=program_id:stream=width,height,codec_name",
		"-of", "compact", filepath.Join(dir, PlaylistName)).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	for _, wh := range []string{"width=640|height=360", "width=320|height=180"} {
		if !strings.Contains(string(out), wh) {
			t.Errorf("ffprobe did not find the %s variant:\n%s", wh, out)
		}
	}
	for r := range lists {
		if errs := decodeErrors(t, filepath.Join(dir, r, PlaylistName)); errs != "" {
			t.Errorf("%s: decode errors:\n%s", r, errs)
		}
	}

	// The source leaves: its renditions pause and the stage's playlist is
	// the source's media playlist again.
	m.HandleEvent(stream.Event{Stage: "main", End: true})
	if _, err := hlscheck.CheckMediaPlaylist(get(t, m, "main", PlaylistName)); err != nil {
		t.Errorf("after the source left, the stage playlist is not its media playlist: %v", err)
	}
}

// TestManager_renditionsMisaligned: keyframes every 50 frames on the source
// and every 37 on the rendition cannot be aligned: the rendition is still
// served, and the stage gets a warning (once in the log) naming the encoder
// settings that fix it, cleared when the rendition's publish ends.
func TestManager_renditionsMisaligned(t *testing.T) {
	src, ren := renditionPair(t, "12", "50", "37")
	var warns warningRecorder
	logs := &countingHandler{}
	m := newTestManager(t, &Manager{Warnings: &warns, Log: slog.New(logs)})
	publishPair(m, src, ren, 20*time.Millisecond, false)

	warns.mu.Lock()
	msg := warns.last["main/360p/align"]
	warns.mu.Unlock()
	if !strings.HasPrefix(msg, "hls.align_keyframes Boundary=") || !strings.Contains(msg, " Keyframe=") {
		t.Errorf("alignment warning = %q, want hls.align_keyframes with where the source cut and the rendition's keyframe", msg)
	}
	n := 0
	for _, w := range logs.warns {
		if strings.Contains(w, "not aligned") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d misalignment log lines, want 1: %q", n, logs.warns)
	}
	pl, err := hlscheck.CheckMediaPlaylist(getRendition(t, m, "360p", PlaylistName))
	if err != nil || len(pl.Segments) < 3 {
		t.Fatalf("the misaligned rendition is not served: %v %+v", err, pl)
	}
	for _, s := range pl.Segments {
		if s.Duration > 4.1 {
			t.Errorf("rendition segment %s lasts %.2fs: longer than two targets", s.URI, s.Duration)
		}
	}
	m.HandleEvent(stream.Event{Stage: "main", Rendition: "360p", End: true})
	warns.mu.Lock()
	msg = warns.last["main/360p/align"]
	warns.mu.Unlock()
	if msg != "" {
		t.Errorf("warning %q outlived the rendition's publish", msg)
	}
}

// TestManager_renditionWaitsForSource: a rendition published without its
// source is not served; it says why, and it anchors once the source comes.
func TestManager_renditionWaitsForSource(t *testing.T) {
	src, ren := renditionPair(t, "6", "50", "50")
	var warns warningRecorder
	m := newTestManager(t, &Manager{Warnings: &warns})
	m.HandleEvent(stream.Event{Stage: "main", Rendition: "360p", Start: &stream.Stream{Stage: "main", Rendition: "360p", Tracks: ren.tracks, Start: t0}})
	for _, u := range ren.units[:len(ren.units)/2] {
		c := *u
		c.Received = t0.Add(u.DTS)
		m.HandleEvent(stream.Event{Stage: "main", Rendition: "360p", Unit: &c})
	}
	warns.mu.Lock()
	msg := warns.last["main/360p/align"]
	warns.mu.Unlock()
	if msg != "hls.rendition_waits Stage=main" {
		t.Errorf("warning = %q, want the rendition waiting for its source", msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if b, _, ok := m.RenditionFile(ctx, "main", "360p", PlaylistName); ok {
		t.Fatalf("a rendition without its source is served:\n%s", b)
	}
	m.HandleEvent(stream.Event{Stage: "main", Rendition: "360p", End: true})
	publishPair(m, src, ren, 10*time.Millisecond, true)
	if pl, err := hlscheck.CheckMediaPlaylist(getRendition(t, m, "360p", PlaylistName)); err != nil || len(pl.Segments) == 0 {
		t.Fatalf("rendition after its source came: %v", err)
	}
	warns.mu.Lock()
	msg = warns.last["main/360p/align"]
	warns.mu.Unlock()
	if msg != "" {
		t.Errorf("warning %q stays after the source came", msg)
	}
}

func TestRenderMultivariant(t *testing.T) {
	vs := []playlist.Variant{
		{URI: "source/index.m3u8", Bandwidth: 5_000_000, AverageBandwidth: 4_000_000, Codecs: []string{"avc1.640028", "mp4a.40.2"}, Width: 1920, Height: 1080, FrameRate: 25},
		{URI: "360p/index.m3u8", Bandwidth: 800_000, AverageBandwidth: 600_000, Codecs: []string{"avc1.42c01e", "opus"}, Width: 640, Height: 360, FrameRate: 29.97},
	}
	b, err := RenderMultivariant(vs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#EXT-X-INDEPENDENT-SEGMENTS",
		`#EXT-X-STREAM-INF:BANDWIDTH=5000000,AVERAGE-BANDWIDTH=4000000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=25.000` + "\nsource/index.m3u8",
		`BANDWIDTH=800000,AVERAGE-BANDWIDTH=600000,CODECS="avc1.42c01e,opus",RESOLUTION=640x360,FRAME-RATE=29.970` + "\n360p/index.m3u8",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %q in\n%s", want, b)
		}
	}
	if _, err := RenderMultivariant([]playlist.Variant{{URI: "x/index.m3u8"}}); err == nil {
		t.Error("a variant without bandwidth was rendered")
	}
}

// TestManager_renditionAudioOnly: an audio-only rendition (for the slowest
// networks) anchors on the arrival estimate rather than on a video keyframe,
// cuts where the source does (an audio frame is always within half a frame
// of a boundary) and is listed without RESOLUTION.
func TestManager_renditionAudioOnly(t *testing.T) {
	src, _ := renditionPair(t, "10", "50", "50")
	audio := load(t, encode(t, "audio.mp4", append(audioIn(), "-t", "10", "-c:a", "aac", "-b:a", "48k")...))
	var warns warningRecorder
	m := newTestManager(t, &Manager{Warnings: &warns})
	publishPair(m, src, audio, 15*time.Millisecond, false)
	body := get(t, m, "main", PlaylistName)
	mp, err := hlscheck.CheckMultivariantPlaylist(body)
	if err != nil || len(mp.Variants) != 2 {
		t.Fatalf("multivariant: %v\n%s", err, body)
	}
	if v := mp.Variants[1]; v.Width != 0 || len(v.Codecs) != 1 || v.Codecs[0] != "mp4a.40.2" {
		t.Errorf("audio-only variant %+v", v)
	}
	srcPL, err := hlscheck.CheckMediaPlaylist(getRendition(t, m, "source", PlaylistName))
	if err != nil {
		t.Fatal(err)
	}
	renPL, err := hlscheck.CheckMediaPlaylist(getRendition(t, m, "360p", PlaylistName))
	if err != nil || len(renPL.Segments) < 3 {
		t.Fatalf("audio rendition: %v", err)
	}
	for _, s := range renPL.Segments[1:] {
		near := false
		for _, ss := range srcPL.Segments {
			if d := s.ProgramDateTime.Sub(ss.ProgramDateTime); d > -12*time.Millisecond && d < 12*time.Millisecond {
				near = true
			}
		}
		if !near {
			t.Errorf("audio segment %s at %s starts at no source segment's start", s.URI, s.ProgramDateTime.Format(time.RFC3339Nano))
		}
	}
	warns.mu.Lock()
	defer warns.mu.Unlock()
	if msg := warns.last["main/360p/align"]; msg != "" {
		t.Errorf("warning on an audio-only rendition: %q", msg)
	}
}

// TestManager_renditionReports: with parts, each variant's media playlist
// reports where the others end (EXT-X-RENDITION-REPORT, URIs relative to
// /live/{stage}/{rendition}/index.m3u8), so a player switching rendition
// asks for the right part at once; the stage's own playlist is the
// multivariant, and a classic stage has no reports.
func TestManager_renditionReports(t *testing.T) {
	src, ren := renditionPair(t, "8", "50", "50")
	for _, part := range []time.Duration{200 * time.Millisecond, 0} {
		t.Run("part="+part.String(), func(t *testing.T) {
			m := newTestManager(t, &Manager{PartDuration: part, Warnings: &warningRecorder{}})
			publishPair(m, src, ren, 35*time.Millisecond, false)
			lists := map[string]*playlist.Media{}
			for _, r := range []string{"source", "360p"} {
				pl, err := playlist.ParseMedia(getRendition(t, m, r, PlaylistName))
				if err != nil {
					t.Fatalf("%s playlist: %v", r, err)
				}
				lists[r] = pl
			}
			for self, other := range map[string]string{"source": "360p", "360p": "source"} {
				reports := lists[self].RenditionReports
				if part == 0 {
					if len(reports) != 0 {
						t.Errorf("%s: classic playlist has rendition reports %+v", self, reports)
					}
					continue
				}
				if len(reports) != 1 || reports[0].URI != "../"+other+"/index.m3u8" {
					t.Fatalf("%s: rendition reports %+v, want one for ../%s/index.m3u8", self, reports, other)
				}
				// The other playlist ends at its segment in progress and its
				// last part, or at its last segment.
				o := lists[other]
				lastMSN := o.MediaSequence + o.Skipped + uint64(len(o.Segments))
				lastPart := len(o.Parts) - 1
				if len(o.Parts) == 0 {
					lastMSN--
					lastPart = len(o.Segments[len(o.Segments)-1].Parts) - 1
				}
				if got := reports[0]; got.LastMSN != lastMSN || got.LastPart != lastPart {
					t.Errorf("%s reports %s at msn %d part %d, its playlist ends at msn %d part %d",
						self, other, got.LastMSN, got.LastPart, lastMSN, lastPart)
				}
			}
		})
	}
}

// TestManager_renditionAfterMediaPlaylist: a player that loaded the stage's
// playlist while it was a media playlist (no rendition yet) and reloads it
// with LL directives once a rendition made it multivariant keeps getting the
// source's media playlist; a plain request gets the multivariant one.
func TestManager_renditionAfterMediaPlaylist(t *testing.T) {
	src, ren := renditionPair(t, "8", "50", "50")
	m := newTestManager(t, &Manager{PartDuration: 200 * time.Millisecond, Warnings: &warningRecorder{}})
	publishPair(m, src, ren, 35*time.Millisecond, false)
	tests := []struct {
		name      string
		msn, part int64
		skip      bool
		wantMedia bool
	}{
		{"plain: multivariant", -1, -1, false, false},
		{"blocking reload: media", 0, -1, false, true},
		{"blocking reload of a part: media", 0, 0, false, true},
		{"delta update: media", -1, -1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, status := m.Playlist(t.Context(), "main", tt.msn, tt.part, tt.skip)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			_, err := playlist.ParseMedia(body)
			if isMedia := err == nil && !strings.Contains(string(body), "#EXT-X-STREAM-INF"); isMedia != tt.wantMedia {
				t.Errorf("media playlist %v (%v), want %v:\n%s", isMedia, err, tt.wantMedia, body)
			}
		})
	}
}
