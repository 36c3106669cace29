package web

import (
	"context"
	"net/http"

	"github.com/salon/salon/archive"
)

// handleSlideChange turns the live talk's slides to a page for every viewer
// (POST /api/talks/{id}/slide {"page":N}; the talk's speaker token or admin):
// the stage's chat pushes {"type":"slide","talk","page"} and records the
// change, which is saved with the talk when it stops.
func (s *Server) handleSlideChange(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.requireSpeaker(w, r, id); !ok {
		return
	}
	var in struct {
		Page *int `json:"page"`
	}
	if !s.decodeBody(w, r, &in) {
		return
	}
	if in.Page == nil || *in.Page < 1 || *in.Page > archive.MaxSlidePage {
		s.jsonError(w, http.StatusBadRequest, `send {"page": N} with N the page shown, from 1`)
		return
	}
	t, err := s.Talks.Get(id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	if !t.Live() {
		s.jsonError(w, http.StatusConflict, "the talk is not live: page changes reach viewers, and are recorded, only between the organiser's start and stop")
		return
	}
	h, ok := s.chat.hub(t.Stage)
	if !ok {
		s.jsonError(w, http.StatusServiceUnavailable, "the stage's chat is not available to carry the page change; try again")
		return
	}
	h.SetSlide(t.ID, *in.Page)
	s.writeJSON(w, http.StatusOK, map[string]any{"talk": t.ID, "page": *in.Page})
}

// saveTalkSlides saves the page changes of a talk that just stopped with it,
// and returns the talk as saved (t itself when there are none or saving
// failed, which is logged: the replay still plays, without page turns).
func (s *Server) saveTalkSlides(ctx context.Context, t archive.Talk) archive.Talk {
	h, ok := s.chat.hub(t.Stage)
	if !ok {
		return t
	}
	var changes []archive.SlideChange
	for _, sl := range h.Slides(t.ID) {
		changes = append(changes, archive.SlideChange{At: sl.Time, Page: sl.Page})
	}
	if len(changes) == 0 {
		return t
	}
	saved, err := s.Talks.SaveSlideChanges(ctx, t.ID, changes)
	if err != nil {
		s.Log.Error("the talk's page changes were not saved", "talk", t.ID, "changes", len(changes), "error", err)
		return t
	}
	s.Log.Info("talk slide changes saved", "talk", t.ID, "changes", len(changes))
	return saved
}
