package web

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/chat"
)

// chatRooms are the stages' chat rooms as Server takes them; *chat.Rooms
// satisfies it.
type chatRooms interface {
	hubUser
	talkLogger
}

// hubUser opens a stage's chat hub.
type hubUser interface {
	// Use runs fn with the stage's hub, opening its room when the stage is
	// live or has talks; chat.ErrNoRoom when it may have none.
	Use(stage string, fn func(*chat.Hub)) error
}

// chatHubs reach a stage's hub for the groups that act on a chat (the chat
// routes, the slide sync).
type chatHubs struct {
	rooms hubUser // nil without chat: the routes answer 503
	resp  *responder
}

// chatHandlers serve the chat: the websocket, moderation, questions put on
// screen or answered.
type chatHandlers struct {
	origins   []string // ChatOrigins
	publicURL string
	log       *slog.Logger
	slides    speakerTokens // optional: a speaker marks questions answered
	talks     liveTalks     // with slides
	*chatHubs
	*responder
	*auth
}

func (s *chatHandlers) register(rt *router) {
	rt.mux.HandleFunc("GET /ws/chat/{stage}", s.handleChat)
	rt.handle("DELETE /api/stages/{stage}/chat/messages/{id}", s.handleChatDelete)
	rt.handle("POST /api/stages/{stage}/chat/messages/{id}/ban", s.handleChatBan)
	rt.handle("POST /api/stages/{stage}/chat/messages/{id}/answered", s.handleChatAnswered)
	rt.handle("PUT /api/stages/{stage}/chat/slow-mode", s.handleChatSlowMode)
	rt.handle("PUT /api/stages/{stage}/chat/onscreen", s.handleChatOnScreen)
	rt.handle("GET /api/stages/{stage}/chat/moderation", s.handleChatModeration)
}

// useHub runs fn with the stage's hub, or answers the request: 404 for a
// bad stage name or a stage without a chat (not live, no talks), 503 when
// chat is not available.
func (s *chatHubs) useHub(w http.ResponseWriter, stage string, fn func(*chat.Hub)) {
	if !stream.ValidStage(stage) {
		s.resp.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1-64 of a-z, 0-9 and -")
		return
	}
	if s.rooms == nil {
		s.resp.jsonError(w, http.StatusServiceUnavailable, "chat is not configured")
		return
	}
	err := s.rooms.Use(stage, fn)
	switch {
	case err == nil:
	case errors.Is(err, chat.ErrNoRoom):
		s.resp.jsonError(w, http.StatusNotFound, "stage "+stage+" has no chat: it is not live and has no talks")
	default:
		s.resp.jsonError(w, http.StatusServiceUnavailable, "chat is not available for this stage right now: "+err.Error())
	}
}

// checkOrigin lets a browser page open the chat websocket when it comes from
// this server (the Origin's host is the request's Host, or PublicURL's) or
// from one of ChatOrigins. Requests without an Origin header are not from a
// browser page and cannot carry its cookies; they pass.
func (s *chatHandlers) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if s.publicURL != "" {
		if pu, err := url.Parse(s.publicURL); err == nil && strings.EqualFold(pu.Scheme+"://"+pu.Host, u.Scheme+"://"+u.Host) {
			return true
		}
	}
	for _, o := range s.origins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), u.Scheme+"://"+u.Host) {
			return true
		}
	}
	s.log.Debug("chat websocket refused: foreign origin", "origin", origin, "host", r.Host)
	return false
}

// handleChat upgrades to the stage's chat websocket (DESIGN.md, "Contract:
// chat"). The handler runs for the whole connection.
func (s *chatHandlers) handleChat(w http.ResponseWriter, r *http.Request) {
	if !s.checkOrigin(r) {
		s.jsonError(w, http.StatusForbidden, "this page's origin may not open the chat (see -chat-origins)")
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	s.useHub(w, r.PathValue("stage"), func(h *chat.Hub) { h.ServeWS(w, r, ip) })
}
