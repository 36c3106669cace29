package chat

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// post commits a message from c, or says why not.
func (h *Hub) post(c *client, text string, question bool) *frameError {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	if h.isBannedLocked(c) {
		h.mu.Unlock()
		return &frameError{CodeBanned, "you are banned from this chat"}
	}
	now := h.Now().UTC()
	if h.slowMode > 0 && !c.lastPost.IsZero() && now.Sub(c.lastPost) < h.slowMode {
		wait := h.slowMode - now.Sub(c.lastPost)
		h.mu.Unlock()
		return &frameError{CodeRateLimited, fmt.Sprintf("slow mode: one message every %v; wait %v", h.slowMode, wait.Round(time.Second))}
	}
	if !c.lim.AllowN(now, 1) {
		h.mu.Unlock()
		return &frameError{CodeRateLimited, "too many messages; wait a moment"}
	}
	if st := h.ips[c.ip]; st != nil && !h.shared(c.ip) && !st.limiter.AllowN(now, 1) {
		h.mu.Unlock()
		return &frameError{CodeRateLimited, "too many messages from your network; wait a moment"}
	}
	c.lastPost = now
	m := &Message{
		ID:       newID(),
		ClientID: c.id,
		Name:     c.name,
		Text:     text,
		Time:     now,
		Question: question,
	}
	if id, _, ok := h.liveTalkLocked(); ok {
		m.Talk = id
	}
	rec := logRecord{Msg: m, IP: c.ip, Viewer: c.viewer}
	h.mu.Unlock()
	// Applied, and broadcast to everyone (c included), as the log delivers it.
	return unavailable(h.commit(m.ID, rec))
}

func (h *Hub) appendLocked(m *Message) {
	h.log = append(h.log, m)
	h.byID[m.ID] = m
	if over := len(h.log) - h.MaxLog; over > 0 {
		for _, old := range h.log[:over] {
			delete(h.byID, old.ID)
			delete(h.voters, old.ID)
		}
		h.log = append(h.log[:0:0], h.log[over:]...)
	}
	if m.Deleted {
		return
	}
	h.history = append(h.history, m)
	if over := len(h.history) - h.History; over > 0 {
		h.history = append(h.history[:0:0], h.history[over:]...)
	}
	if m.Question {
		h.questions = append(h.questions, m)
		if over := len(h.questions) - h.MaxQuestions; over > 0 {
			h.questions = append(h.questions[:0:0], h.questions[over:]...)
		}
	}
}

// vote commits c's vote for a question; a second vote by the same viewer
// (votes.go) is a no-op.
func (h *Hub) vote(c *client, id string) *frameError {
	h.mu.Lock()
	if h.isBannedLocked(c) {
		h.mu.Unlock()
		return &frameError{CodeBanned, "you are banned from this chat"}
	}
	m := h.byID[id]
	if m == nil || m.Deleted || !m.Question {
		h.mu.Unlock()
		return &frameError{CodeBadRequest, "no such question"}
	}
	keys := h.voteKeys(c) // votes.go: one vote per viewer, not per connection
	voted := h.votedLocked(id, keys)
	h.mu.Unlock()
	if voted {
		return nil
	}
	return unavailable(h.commit("", logRecord{Vote: id, Voters: keys}))
}

// hello sets c's display name and, when the page sent one, its viewer key;
// a banned viewer key ends the connection.
func (h *Hub) hello(c *client, name, viewer string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if name != "" {
		c.name = name
	}
	if viewer == "" || c.viewer != "" {
		return // the key is fixed for the connection's life
	}
	c.viewer = viewer
	h.viewerOf[c.id] = viewer
	if _, banned := h.bannedViewers[viewer]; banned {
		h.bannedIDs[c.id] = struct{}{}
		h.disconnectBannedLocked(c)
	}
}

// Messages returns copies of the logged messages with since ≤ Time < until,
// oldest first, deleted ones included and marked; for archiving a talk's
// slice. A zero until means no upper bound.
func (h *Hub) Messages(since, until time.Time) []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Message
	for _, m := range h.log {
		if m.Time.Before(since) || (!until.IsZero() && !m.Time.Before(until)) {
			continue
		}
		out = append(out, *m)
	}
	return out
}

// newID returns a short random id (12 hex digits): unique enough within a
// stage's day, and not guessable, so a client id cannot be spoofed into a ban.
func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
