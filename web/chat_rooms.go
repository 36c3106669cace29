package web

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/chat"
)

// chatRooms are the stages' chat rooms; *chat.Rooms satisfies it.
type chatRooms interface {
	// Use runs fn with the stage's hub, opening its room when the stage is
	// live or has talks; chat.ErrNoRoom when it may have none.
	Use(stage string, fn func(*chat.Hub)) error
	// TalkLog is what the stage's chat holds of a talk.
	TalkLog(stage, talk string, since time.Time) ([]chat.Message, []chat.Slide, error)
}

// useHub runs fn with the stage's hub, or answers the request: 404 for a
// bad stage name or a stage without a chat (not live, no talks), 503 when
// chat is not available.
func (s *Server) useHub(w http.ResponseWriter, stage string, fn func(*chat.Hub)) {
	if !stream.ValidStage(stage) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1-64 of a-z, 0-9 and -")
		return
	}
	if s.Chat == nil {
		s.jsonError(w, http.StatusServiceUnavailable, "chat is not configured")
		return
	}
	err := s.Chat.Use(stage, fn)
	switch {
	case err == nil:
	case errors.Is(err, chat.ErrNoRoom):
		s.jsonError(w, http.StatusNotFound, "stage "+stage+" has no chat: it is not live and has no talks")
	default:
		s.jsonError(w, http.StatusServiceUnavailable, "chat is not available for this stage right now: "+err.Error())
	}
}

// checkOrigin lets a browser page open the chat websocket when it comes from
// this server (the Origin's host is the request's Host, or PublicURL's) or
// from one of ChatOrigins. Requests without an Origin header are not from a
// browser page and cannot carry its cookies; they pass.
func (s *Server) checkOrigin(r *http.Request) bool {
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
	if s.PublicURL != "" {
		if pu, err := url.Parse(s.PublicURL); err == nil && strings.EqualFold(pu.Scheme+"://"+pu.Host, u.Scheme+"://"+u.Host) {
			return true
		}
	}
	for _, o := range s.ChatOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), u.Scheme+"://"+u.Host) {
			return true
		}
	}
	s.Log.Debug("chat websocket refused: foreign origin", "origin", origin, "host", r.Host)
	return false
}

// handleChat upgrades to the stage's chat websocket (DESIGN.md, "Contract:
// chat"). The handler runs for the whole connection.
func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
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
