package web

import (
	"net/http"
	"time"

	"github.com/salon/salon/captions"
	"github.com/salon/salon/ingest/stream"
)

// The pages show the cues posted live on a stage (the live page, and a
// talk's page while it is live) from GET /api/stages/{stage}/captions: the
// cues in wall-clock time, which the page puts on its player's timeline
// through the playlist's EXT-X-PROGRAM-DATE-TIMEs (js/lib/live-captions.js).
// The live HLS's subtitle rendition says the same to other players; a page
// cannot use it for a talk's replay playlist, and hls.js reads it only when
// the stage had cues before the player started.

// liveCuesBack bounds how far back ?since= reaches: a talk's length, and
// then some.
const (
	liveCuesBack    = 6 * time.Hour
	liveCuesDefault = 2 * time.Minute
	maxLiveCuesJSON = 2000 // per language, the newest
)

// liveCueJSON is one live cue for the pages.
type liveCueJSON struct {
	Lang  string    `json:"lang"`
	Start time.Time `json:"start"`
	// End is when the cue stops showing: the next cue in its language, at
	// most a few seconds later; the newest cue's may move when a later one
	// comes.
	End  time.Time `json:"end"`
	Text string    `json:"text"` // WebVTT cue text: the page renders it as a cue, never as HTML
}

// handleLiveCues answers GET /api/stages/{stage}/captions?since=RFC3339:
// the live cues that show from since (default: the last two minutes; at
// most six hours back) until now, by language and time.
func (s *captionHandlers) handleLiveCues(w http.ResponseWriter, r *http.Request) {
	stage := r.PathValue("stage")
	if !stream.ValidStage(stage) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1–64 of a-z, 0-9 and -")
		return
	}
	now := time.Now()
	since := now.Add(-liveCuesDefault)
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.jsonError(w, http.StatusBadRequest, "since must be an RFC 3339 time, e.g. 2026-12-02T10:00:00Z")
			return
		}
		since = t
	}
	if oldest := now.Add(-liveCuesBack); since.Before(oldest) {
		since = oldest
	}
	out := struct {
		Cues []liveCueJSON `json:"cues"`
	}{Cues: []liveCueJSON{}}
	for _, lang := range s.live.Langs(stage) {
		cues := s.live.Span(stage, lang, since, now.Add(time.Second))
		if len(cues) > maxLiveCuesJSON {
			cues = cues[len(cues)-maxLiveCuesJSON:]
		}
		for _, c := range cues {
			out.Cues = append(out.Cues, liveCueJSON{Lang: lang, Start: c.Start.UTC(), End: c.End.UTC(), Text: c.Text})
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, http.StatusOK, out)
}

var _ liveCaptions = (*captions.Live)(nil)
