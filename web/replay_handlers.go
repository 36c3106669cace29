package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/salon/salon/archive"
)

// replayHandlers serve what a replay offers besides playing: its chapters
// (/talks/{id}/chapters.vtt) and the bundle to take home
// (/talks/{id}/bundle.zip, talk_bundle.go).
type replayHandlers struct {
	archive   bundleStore  // optional: the bundle answers 503 without it
	talks     talkSelector // optional: both routes answer 503 without it
	stats     fetchCounter // optional: a bundle counts as an MP4 download
	maxBundle int64        // bytes
	log       *slog.Logger
	*chatHistory
	*responder
	*hiddenTalks
	*audience
}

// bundleStore reads the objects of a bundle and lists what a talk has.
type bundleStore interface {
	objectGetter
	objectLister
}

// objectLister lists the objects below a prefix.
type objectLister interface {
	List(ctx context.Context, prefix string) ([]archive.ObjectInfo, error)
}

func (s *replayHandlers) register(rt *router) {
	rt.handle("GET /talks/{id}/chapters.vtt", rt.need(s.talks != nil, noTalks, s.handleChapters))
	rt.handle("GET /talks/{id}/bundle.zip", rt.need(s.talks != nil && s.archive != nil, noArchive, s.handleBundle))
}

// handleChapters serves a talk's chapters as a WebVTT track (kind
// "chapters"): one cue per slide the presenter showed, "Slide N", placed on
// the replay's timeline at request time, so a re-cut is followed at once.
// A talk with no recorded page change has an empty track.
func (s *replayHandlers) handleChapters(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.hideTalk(w, r, id) {
		return
	}
	t, err := s.talks.Get(id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	sel, err := s.talks.Selection(r.Context(), id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	if len(sel.Parts) == 0 {
		s.jsonError(w, http.StatusNotFound, "talk "+id+" has no recording yet")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/vtt; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(archive.SlidesVTT(&sel, t.SlideChanges))
}
