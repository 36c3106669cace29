package web

import (
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/chat"
)

// maxChatRooms bounds the hubs one server makes: rooms are made on demand
// for any valid stage name, so a client must not be able to make thousands.
const maxChatRooms = 64

// chatRooms holds one chat hub per stage, made on first use. mu guards hubs.
type chatRooms struct {
	s      *Server
	mu     sync.Mutex
	hubs   map[string]*chat.Hub
	closed bool
}

// chatTalks tells a hub which talk is live on its stage, as the API shows it.
type chatTalks struct{ s *Server }

func (c chatTalks) LiveOn(stage string) (string, any, bool) {
	if c.s.Talks == nil {
		return "", nil, false
	}
	t, ok := c.s.Talks.LiveOn(stage)
	if !ok {
		return "", nil, false
	}
	return t.ID, c.s.talkJSON(t), true
}

func (c *chatRooms) hub(stage string) (*chat.Hub, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false
	}
	if h := c.hubs[stage]; h != nil {
		return h, true
	}
	if len(c.hubs) >= maxChatRooms {
		return nil, false
	}
	h := &chat.Hub{Stage: stage, Talks: chatTalks{c.s}, Log: c.s.Log, CheckOrigin: c.s.checkOrigin, SharedNets: c.s.ChatSharedNets}
	if c.s.ChatDir != "" {
		h.JournalPath = filepath.Join(c.s.ChatDir, stage+".jsonl")
	}
	if err := h.Initialize(); err != nil {
		c.s.Log.Error("chat hub", "stage", stage, "error", err)
		return nil, false
	}
	c.hubs[stage] = h
	return h, true
}

// talkChanged tells the stage's chat, if it has one, which talk is live now.
func (c *chatRooms) talkChanged(stage string, t *archive.Talk) {
	c.mu.Lock()
	h := c.hubs[stage]
	c.mu.Unlock()
	if h == nil {
		return
	}
	if t == nil {
		h.TalkChanged(nil)
		return
	}
	h.TalkChanged(c.s.talkJSON(*t))
}

func (c *chatRooms) close() {
	c.mu.Lock()
	c.closed = true
	hubs := c.hubs
	c.hubs = nil
	c.mu.Unlock()
	for _, h := range hubs {
		h.Close()
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
	stage := r.PathValue("stage")
	if !stream.ValidStage(stage) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1-64 of a-z, 0-9 and -")
		return
	}
	h, ok := s.chat.hub(stage)
	if !ok {
		s.jsonError(w, http.StatusServiceUnavailable, "chat is not available for this stage right now")
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	h.ServeWS(w, r, ip)
}
