package web

import (
	"net/http"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/chat"
)

// handleSlideChange turns the live talk's slides to a page for every viewer
// (POST /api/talks/{id}/slide {"page":N}; the talk's speaker token or admin):
// the stage's chat pushes {"type":"slide","talk","page"} and records the
// change, which the programme saves with the talk when it stops.
func (s *slideHandlers) handleSlideChange(w http.ResponseWriter, r *http.Request) {
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
	t, err := s.talks.Get(id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	if !t.Live() {
		s.jsonError(w, http.StatusConflict, "the talk is not live: page changes reach viewers, and are recorded, only between the organiser's start and stop")
		return
	}
	s.useHub(w, t.Stage, func(h *chat.Hub) {
		if err := h.SetSlide(t.ID, *in.Page); err != nil {
			s.jsonError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		s.writeJSON(w, http.StatusOK, map[string]any{"talk": t.ID, "page": *in.Page})
	})
}
