package chat

import (
	"crypto/sha256"
	"encoding/hex"
)

// Votes are de-duplicated per viewer, not per connection: a vote counts
// unless the connection, the browser's viewer key or (outside SharedNets)
// the address has already voted for the question, so reconnecting, or a new
// tab, adds nothing. Behind a shared address (a venue's NAT) everyone shares
// the address, so only the connection and the viewer key count there.
//
// The journal keeps, with each vote, the voter's keys hashed (voteKeys), so
// the de-duplication survives a restart without the journal gaining personal
// data it does not already hold.

// voteKeys are the hashed identities of c that one vote uses up.
func (h *Hub) voteKeys(c *client) []string {
	keys := []string{hashVoter("c", c.id)}
	if c.viewer != "" {
		keys = append(keys, hashVoter("v", c.viewer))
	}
	if c.ip != "" && !h.shared(c.ip) {
		keys = append(keys, hashVoter("a", c.ip))
	}
	return keys
}

func hashVoter(kind, v string) string {
	sum := sha256.Sum256([]byte(kind + ":" + v))
	return hex.EncodeToString(sum[:12])
}

// votedLocked reports whether any of keys has voted for question id.
func (h *Hub) votedLocked(id string, keys []string) bool {
	vs := h.voters[id]
	for _, k := range keys {
		if _, ok := vs[k]; ok {
			return true
		}
	}
	return false
}

// addVotersLocked records keys as having voted for question id.
func (h *Hub) addVotersLocked(id string, keys []string) {
	vs := h.voters[id]
	if vs == nil {
		vs = make(map[string]struct{}, len(keys))
		h.voters[id] = vs
	}
	for _, k := range keys {
		vs[k] = struct{}{}
	}
}
