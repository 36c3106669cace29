package web

import (
	"encoding/json"
	"net/http"

	"github.com/salon/salon/web/chat"
)

// handleAdminChat is a stage's chat in the console: every message with
// delete and ban, slow mode, and the questions by votes with "on screen"
// and "answered". The page reads the stage's chat websocket like any viewer
// and acts through the moderation API.
func (s *consoleHandlers) handleAdminChat(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSessionPage(w, r)
	if !ok {
		return
	}
	name, ok := s.stagePage(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "admin_chat.html", pageData{
		Title:     s.tr(r).T("console.chat.title", "Stage", name),
		StageName: name,
		Admin:     adminData{CSRF: sess.csrf, Zone: s.zoneName()},
	})
}

// handleChatOnScreen puts a question on the room's screen or takes it off
// (PUT /api/stages/{stage}/chat/onscreen {"id":"…"|null}, admin).
func (s *chatHandlers) handleChatOnScreen(w http.ResponseWriter, r *http.Request) {
	s.chatHub(w, r, func(h *chat.Hub) {
		var in struct {
			ID json.RawMessage `json:"id"`
		}
		if !s.decodeBody(w, r, &in) {
			return
		}
		var id *string
		if len(in.ID) == 0 || json.Unmarshal(in.ID, &id) != nil || (id != nil && *id == "") {
			s.jsonError(w, http.StatusBadRequest, `send {"id": "MESSAGE_ID"} to put a question on screen, or {"id": null} to take it off`)
			return
		}
		target := ""
		if id != nil {
			target = *id
		}
		if err := h.SetOnScreen(target); err != nil {
			s.chatError(w, err)
			return
		}
		s.writeJSON(w, http.StatusOK, map[string]*string{"id": id})
	})
}

// chatModeration is the moderation state the console shows.
type chatModeration struct {
	SlowModeSeconds int     `json:"slow_mode_seconds"`
	OnScreen        *string `json:"onscreen"`
	Viewers         int     `json:"viewers"`
}

// handleChatModeration answers the stage's slow mode and question on screen
// (GET /api/stages/{stage}/chat/moderation, admin).
func (s *chatHandlers) handleChatModeration(w http.ResponseWriter, r *http.Request) {
	s.chatHub(w, r, func(h *chat.Hub) {
		out := chatModeration{SlowModeSeconds: int(h.CurrentSlowMode().Seconds()), Viewers: h.Viewers()}
		if m, ok := h.OnScreen(); ok {
			out.OnScreen = &m.ID
		}
		s.writeJSON(w, http.StatusOK, out)
	})
}
