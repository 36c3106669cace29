package hls

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/captions"
	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/ingest/stream"
)

// fakeCues is a captionSource with fixed cues in "en" on stage main.
type fakeCues struct {
	mu   sync.Mutex
	cues []captions.Timed
}

func (f *fakeCues) Langs(stage string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stage != "main" || len(f.cues) == 0 {
		return nil
	}
	return []string{"en"}
}

func (f *fakeCues) Span(stage, lang string, from, to time.Time) []captions.Timed {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []captions.Timed
	for _, c := range f.cues {
		if c.End.After(from) && c.Start.Before(to) {
			out = append(out, c)
		}
	}
	return out
}

// TestManager_Subtitles: with live cues, the stage's playlist is a
// multivariant playlist over the source alone with a SUBTITLES rendition;
// the subtitle playlist mirrors the source's segments (hlscheck), and each
// WebVTT segment holds the cues that show during its segment, on the
// stage's timeline, with an X-TIMESTAMP-MAP at the segment's decode time.
func TestManager_Subtitles(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "subs.mp4", append(videoIn("8"), "-c:v", "libx264", "-g", "30", "-bf", "0")...))
	cues := &fakeCues{}
	m := newTestManager(t, &Manager{Captions: cues})
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: md.tracks, Start: t0}})
	for _, u := range md.units {
		m.HandleEvent(stream.Event{Stage: "main", Unit: u})
	}

	body, status := m.Playlist(t.Context(), "main", -1, -1, false)
	if status != http.StatusOK || playlist.IsMultivariant(body) {
		t.Fatalf("without cues: %d, want the media playlist:\n%s", status, body)
	}
	video, err := hlscheck.CheckMediaPlaylist(body)
	if err != nil || len(video.Segments) < 3 {
		t.Fatalf("source playlist: %v\n%s", err, body)
	}
	if _, st := m.SubtitlePlaylist("main", "en"); st != http.StatusNotFound {
		t.Errorf("subtitle playlist without cues: %d, want 404", st)
	}

	// A cue from half a second into the third segment, for a second.
	seg := video.Segments[2]
	at := seg.ProgramDateTime.Add(500 * time.Millisecond)
	cues.mu.Lock()
	cues.cues = []captions.Timed{{Start: at, End: at.Add(time.Second), Text: "hello <b>字幕</b>"}}
	cues.mu.Unlock()

	body, _ = m.Playlist(t.Context(), "main", -1, -1, false)
	mv, err := hlscheck.CheckMultivariantPlaylist(body)
	if err != nil {
		t.Fatalf("multivariant: %v\n%s", err, body)
	}
	if len(mv.Variants) != 1 || mv.Variants[0].URI != "source/index.m3u8" || mv.Variants[0].Subtitles != SubtitleGroup ||
		len(mv.Media) != 1 || mv.Media[0].URI != "captions/en/index.m3u8" || mv.Media[0].Language != "en" || mv.Media[0].Name != "English" {
		t.Fatalf("multivariant playlist:\n%s", body)
	}
	subBody, st := m.SubtitlePlaylist("main", "en")
	if st != http.StatusOK {
		t.Fatalf("subtitle playlist: %d", st)
	}
	subs, err := hlscheck.CheckMediaPlaylist(subBody)
	if err != nil {
		t.Fatalf("subtitle playlist: %v\n%s", err, subBody)
	}
	if err := hlscheck.CheckSubtitles(video, subs); err != nil {
		t.Fatalf("%v\nvideo:\n%s\nsubtitles:\n%s", err, body, subBody)
	}

	vtt, ok := m.SubtitleSegment("main", "en", seg.Seq)
	if !ok {
		t.Fatal("no WebVTT segment for the cue's segment")
	}
	// The segment's start on the timeline: the first two segments' durations
	// after the first keyframe's presentation time.
	st0, _ := m.lookup(pathKey("main", ""))
	snap, _, _ := st0.served.playlist()
	ptl := snap.entries[2].ptl
	want := fmt.Sprintf("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:%s\n\n%s --> %s\nhello <b>字幕</b>\n",
		uint64(ptl)*9/100_000, clockOf(ptl), clockOf(ptl+500*time.Millisecond), clockOf(ptl+1500*time.Millisecond))
	if string(vtt) != want {
		t.Errorf("segment %d:\n%s\nwant:\n%s", seg.Seq, vtt, want)
	}
	if other, _ := m.SubtitleSegment("main", "en", video.Segments[0].Seq); strings.Contains(string(other), "hello") {
		t.Errorf("the first segment holds the cue:\n%s", other)
	}
	if _, ok := m.SubtitleSegment("main", "en", video.Segments[len(video.Segments)-1].Seq+5); ok {
		t.Error("a segment past the playlist was served")
	}
}

func clockOf(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
