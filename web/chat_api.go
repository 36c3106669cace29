package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/chat"
)

// liveTalks tells which talk is live on a stage now.
type liveTalks interface {
	LiveOn(stage string) (archive.Talk, bool)
}

// speakerTokens knows the talk a speaker link's token is for.
type speakerTokens interface {
	SpeakerTalk(token string) (id string, ok bool)
}

// chatHub runs fn with the request's stage's chat for a moderation request
// (admin), or answers the request.
func (s *chatHandlers) chatHub(w http.ResponseWriter, r *http.Request, fn func(*chat.Hub)) {
	if !s.requireAdmin(w, r) {
		return
	}
	s.useHub(w, r.PathValue("stage"), fn)
}

// handleChatDelete removes a message from everyone's view
// (DELETE /api/stages/{stage}/chat/messages/{id}, admin).
func (s *chatHandlers) handleChatDelete(w http.ResponseWriter, r *http.Request) {
	s.chatHub(w, r, func(h *chat.Hub) {
		if err := h.Delete(r.PathValue("id")); err != nil {
			s.chatError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleChatBan bans the author of a message for the rest of the day
// (POST /api/stages/{stage}/chat/messages/{id}/ban[?scope=ip|viewer], admin):
// chat frames never carry client identities, so moderators point at a
// message. scope=ip (the default) bans the connection, the browser and the
// address; scope=viewer leaves the address alone, for viewers behind the
// venue's shared NAT.
func (s *chatHandlers) handleChatBan(w http.ResponseWriter, r *http.Request) {
	s.chatHub(w, r, func(h *chat.Hub) {
		var scope chat.BanScope
		switch r.URL.Query().Get("scope") {
		case "", "ip":
			scope = chat.BanIP
		case "viewer":
			scope = chat.BanViewer
		default:
			s.jsonError(w, http.StatusBadRequest, "scope must be ip (connection, browser and address) or viewer (connection and browser)")
			return
		}
		id := r.PathValue("id")
		for _, m := range h.Messages(time.Time{}, time.Time{}) {
			if m.ID == id {
				if err := h.Ban(m.ClientID, scope); err != nil {
					s.chatError(w, err)
					return
				}
				if err := h.Delete(id); err != nil && !errors.Is(err, chat.ErrNotFound) {
					s.chatError(w, err)
					return
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		s.jsonError(w, http.StatusNotFound, "no chat message "+id+" on this stage")
	})
}

// handleChatSlowMode sets slow mode (PUT /api/stages/{stage}/chat/slow-mode
// {"seconds":N}, admin): one message per N seconds per viewer; 0 turns it off.
func (s *chatHandlers) handleChatSlowMode(w http.ResponseWriter, r *http.Request) {
	s.chatHub(w, r, func(h *chat.Hub) {
		var in struct {
			Seconds *int `json:"seconds"`
		}
		if !s.decodeBody(w, r, &in) {
			return
		}
		if in.Seconds == nil || *in.Seconds < 0 || *in.Seconds > 3600 {
			s.jsonError(w, http.StatusBadRequest, `send {"seconds": N} with N from 0 (off) to 3600`)
			return
		}
		if err := h.SetSlowMode(time.Duration(*in.Seconds) * time.Second); err != nil {
			s.chatError(w, err)
			return
		}
		s.writeJSON(w, http.StatusOK, map[string]int{"seconds": *in.Seconds})
	})
}

// handleChatAnswered marks a question answered
// (POST /api/stages/{stage}/chat/messages/{id}/answered): the organiser, or
// the speaker of the talk live on the stage with their speaker link's token.
func (s *chatHandlers) handleChatAnswered(w http.ResponseWriter, r *http.Request) {
	if tok := bearer(r); !s.isAdmin(tok) {
		var tid string
		known := false
		if s.slides != nil && tok != "" {
			tid, known = s.slides.SpeakerTalk(tok)
		}
		if !known {
			s.requireAdmin(w, r) // answers 401
			return
		}
		live, ok := s.talks.LiveOn(r.PathValue("stage"))
		if !ok || live.ID != tid {
			s.jsonError(w, http.StatusForbidden, "this speaker link is for a talk that is not live on this stage")
			return
		}
	}
	s.useHub(w, r.PathValue("stage"), func(h *chat.Hub) {
		if err := h.Answer(r.PathValue("id")); err != nil {
			s.chatError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *chatHandlers) chatError(w http.ResponseWriter, err error) {
	if errors.Is(err, chat.ErrNotFound) {
		s.jsonError(w, http.StatusNotFound, err.Error())
		return
	}
	if errors.Is(err, chat.ErrUnavailable) {
		// The cluster is electing a leader or lost its majority.
		s.jsonError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	s.jsonError(w, http.StatusInternalServerError, err.Error())
}
