package hls

import (
	"net/http"
	"strconv"
	"time"

	"github.com/salon/salon/captions"
	"github.com/salon/salon/hls/playlist"
)

// captionSource is what the live subtitle rendition needs from the cues
// posted live; *captions.Live satisfies it.
type captionSource interface {
	Langs(stage string) []string
	Span(stage, lang string, from, to time.Time) []captions.Timed
}

// Live captions are a WebVTT subtitle rendition of the stage: while a stage
// has live cues, /live/{stage}/index.m3u8 is a multivariant playlist (over
// the source alone, too) with one EXT-X-MEDIA TYPE=SUBTITLES per language,
// at captions/{lang}/index.m3u8. Each subtitle playlist mirrors the
// source's: the same media sequence numbers, durations, date-times and
// discontinuities, one WebVTT segment ({seq}.vtt) per video segment holding
// the cues that show during it, rendered on request from the cues' wall
// clock times through the segment's EXT-X-PROGRAM-DATE-TIME, with an
// X-TIMESTAMP-MAP that puts the segment's start at its fMP4 decode time.

// SubtitleURI is a language's subtitle playlist, relative to the stage's
// multivariant playlist.
func SubtitleURI(lang string) string { return "captions/" + lang + "/" + PlaylistName }

// captionsMultivariant is the stage's multivariant playlist with its live
// captions, nil when it has none (or no variant to offer yet).
func (m *Manager) captionsMultivariant(g *group) []byte {
	if m.Captions == nil {
		return nil
	}
	langs := m.Captions.Langs(g.name)
	if len(langs) == 0 {
		return nil
	}
	g.mu.Lock()
	vs := g.vs
	g.mu.Unlock()
	if len(vs) == 0 {
		return nil
	}
	body, err := RenderMultivariantSubs(vs, Subtitles(langs, SubtitleURI))
	if err != nil {
		m.Log.Error("cannot render the multivariant playlist with captions; serving it without", "stage", g.name, "error", err)
		return nil
	}
	return body
}

// hasLang tells whether the stage has live cues in lang.
func (m *Manager) hasLang(stageName, lang string) bool {
	if m.Captions == nil {
		return false
	}
	for _, l := range m.Captions.Langs(stageName) {
		if l == lang {
			return true
		}
	}
	return false
}

// SubtitlePlaylist is the live subtitle playlist of a stage's captions in
// lang: 200, or 404 for a stage or language without any.
func (m *Manager) SubtitlePlaylist(stageName, lang string) ([]byte, int) {
	st, _ := m.lookup(pathKey(stageName, ""))
	if st == nil || !m.hasLang(stageName, lang) {
		return nil, http.StatusNotFound
	}
	snap, _, _ := st.served.playlist()
	if snap == nil {
		return nil, http.StatusNotFound
	}
	pl := playlist.Media{
		TargetDuration:        secondsDuration(snap.target),
		MediaSequence:         snap.mediaSeq,
		DiscontinuitySequence: snap.discSeq,
		Segments:              make([]playlist.Segment, 0, len(snap.entries)),
	}
	for i := range snap.entries {
		e := &snap.entries[i]
		pl.Segments = append(pl.Segments, playlist.Segment{
			URI: strconv.FormatUint(e.seq, 10) + ".vtt", Duration: e.dur, DateTime: e.start, Discontinuity: e.disc,
		})
	}
	body, err := pl.Marshal()
	if err != nil {
		st.log.Error("cannot render the subtitle playlist", "lang", lang, "error", err)
		return nil, http.StatusInternalServerError
	}
	return body, http.StatusOK
}

// SubtitleSegment is the WebVTT segment of the captions in lang for the
// source's segment seq, while that segment is in the live playlist.
func (m *Manager) SubtitleSegment(stageName, lang string, seq uint64) ([]byte, bool) {
	st, _ := m.lookup(pathKey(stageName, ""))
	if st == nil || !m.hasLang(stageName, lang) {
		return nil, false
	}
	snap, _, _ := st.served.playlist()
	if snap == nil || len(snap.entries) == 0 || seq < snap.mediaSeq || seq >= snap.mediaSeq+uint64(len(snap.entries)) {
		return nil, false
	}
	e := &snap.entries[seq-snap.mediaSeq]
	// Cue times on the stage's timeline: the wall clock mapped through the
	// segment's date-time (as the playlist writes it: milliseconds) to its
	// start on the timeline.
	start := e.start.Round(time.Millisecond)
	ptl := max(e.ptl, 0)
	timed := m.Captions.Span(stageName, lang, start, start.Add(e.dur))
	cues := make([]captions.Cue, 0, len(timed))
	for _, c := range timed {
		cues = append(cues, captions.Cue{Start: max(ptl+c.Start.Sub(start), 0), End: ptl + c.End.Sub(start), Text: c.Text})
	}
	mpegts := uint64(ptl) * 9 / 100_000 // 90 kHz
	return captions.AppendSegment(nil, cues, ptl, e.dur, mpegts), true
}
