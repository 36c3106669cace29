package chat

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/gorilla/websocket"
)

func (h *Hub) isBannedLocked(c *client) bool {
	if _, ok := h.bannedIDs[c.id]; ok {
		return true
	}
	if c.viewer != "" {
		if _, ok := h.bannedViewers[c.viewer]; ok {
			return true
		}
	}
	_, ok := h.bannedIPs[c.ip]
	return ok
}

// Delete removes message id from everyone's view ({"type":"delete","id"}) and
// from the history, on every node; the log keeps it marked Deleted.
func (h *Hub) Delete(id string) error {
	h.mu.Lock()
	m := h.byID[id]
	if m == nil {
		h.mu.Unlock()
		return fmt.Errorf("delete chat message %q on stage %s: %w", id, h.Stage, ErrNotFound)
	}
	deleted, client := m.Deleted, m.ClientID
	h.mu.Unlock()
	if deleted {
		return nil
	}
	if err := h.commit("", logRecord{Delete: id}); err != nil {
		return err
	}
	h.Log.Info("chat message deleted", "id", id, "client", client)
	return nil
}

// BanScope says how wide a ban reaches.
type BanScope int

const (
	// BanIP bans the connection, the browser's viewer key and the IP: the
	// default, which also keeps out a new browser on the same network. At a
	// venue, everyone behind its NAT shares one address: use BanViewer there.
	BanIP BanScope = iota
	// BanViewer bans the connection and the browser's viewer key only.
	BanViewer
)

// Ban bans a client for the rest of the day (BanFor, across restarts): its
// connection id, its browser's viewer key, and with BanIP its address. Every
// matching connection gets {"type":"error","code":"banned"} and is
// disconnected; matching new connections are refused the same way.
func (h *Hub) Ban(clientID string, scope BanScope) error {
	h.mu.Lock()
	ip, ok := h.clientIPs[clientID]
	if !ok {
		h.mu.Unlock()
		return fmt.Errorf("ban chat client %q on stage %s: %w", clientID, h.Stage, ErrNotFound)
	}
	b := &banRecord{Client: clientID, Time: h.Now().UTC()}
	if c := h.clients[clientID]; c != nil {
		b.Viewer = c.viewer
	} else {
		b.Viewer = h.viewerOf[clientID]
	}
	if scope == BanIP && !h.shared(ip) {
		b.IP = ip
	}
	h.mu.Unlock()
	// Applied on every node: matching viewers there are disconnected too.
	if err := h.commit("", logRecord{Ban: b}); err != nil {
		return err
	}
	h.Log.Info("chat client banned", "client", clientID, "viewer", b.Viewer, "ip", b.IP)
	return nil
}

// shared reports whether ip is in SharedNets.
func (h *Hub) shared(ip string) bool {
	if len(h.SharedNets) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range h.SharedNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (h *Hub) addBanLocked(b *banRecord) {
	if b.Client != "" {
		h.bannedIDs[b.Client] = struct{}{}
	}
	if b.Viewer != "" {
		h.bannedViewers[b.Viewer] = struct{}{}
	}
	if b.IP != "" {
		h.bannedIPs[b.IP] = struct{}{}
	}
}

// disconnectBannedLocked tells c it is banned and closes its connection.
func (h *Hub) disconnectBannedLocked(c *client) {
	f := h.prepare(errorFrame{Type: "error", Code: CodeBanned, Message: "you are banned from this chat"})
	if !c.enqueueLocked(f) || !c.enqueueLocked(outFrame{closeCode: websocket.ClosePolicyViolation, closeText: "banned"}) {
		h.removeLocked(c)
	}
}

// Answer marks a question answered ({"type":"answered","id"} to everyone).
func (h *Hub) Answer(id string) error {
	h.mu.Lock()
	m := h.byID[id]
	if m == nil || m.Deleted || !m.Question {
		h.mu.Unlock()
		return fmt.Errorf("mark question %q answered on stage %s: %w", id, h.Stage, ErrNotFound)
	}
	answered := m.Answered
	h.mu.Unlock()
	if answered {
		return nil
	}
	return h.commit("", logRecord{Answered: id})
}

func removeMessage(list []*Message, m *Message) []*Message {
	for i, x := range list {
		if x == m {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// SetSlowMode sets the minimum time between one viewer's messages, on
// every node; 0 turns it off.
func (h *Hub) SetSlowMode(d time.Duration) error {
	d = max(d, 0)
	if err := h.commit("", logRecord{Slow: &slowRecord{Seconds: d.Seconds()}}); err != nil {
		return err
	}
	h.Log.Info("chat slow mode", "interval", d)
	return nil
}

// CurrentSlowMode is the slow mode now (the last SetSlowMode, from any node).
func (h *Hub) CurrentSlowMode() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.slowMode
}
