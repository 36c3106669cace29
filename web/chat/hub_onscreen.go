package chat

import "fmt"

// The question on screen: during Q&A the organiser puts one question on the
// room's projector (/live/{stage}/room) in large type. It is the hub's state
// like answered: in the room's log (it survives a restart and reaches every node), in every welcome frame,
// and broadcast when it changes, so the room screen, the console and every
// viewer's page agree.

// onScreenRecord is the log's record of a change; ID "" clears it.
type onScreenRecord struct {
	ID string `json:"id"`
}

// onScreenFrame is {"type":"onscreen","id":ID|null,"question":chat|null}.
type onScreenFrame struct {
	Type     string     `json:"type"`
	ID       *string    `json:"id"`
	Question *chatFrame `json:"question"`
}

// SetOnScreen puts question id on the room's screen; "" takes it off. An id
// that is not a question the hub knows (deleted ones included) is
// ErrNotFound and changes nothing. Setting what is already shown is a no-op.
func (h *Hub) SetOnScreen(id string) error {
	h.mu.Lock()
	if id != "" {
		m := h.byID[id]
		if m == nil || m.Deleted || !m.Question {
			h.mu.Unlock()
			return fmt.Errorf("put question %q on screen on stage %s: %w", id, h.Stage, ErrNotFound)
		}
	}
	same := h.onScreen == id
	h.mu.Unlock()
	if same {
		return nil
	}
	if err := h.commit("", logRecord{OnScreen: &onScreenRecord{ID: id}}); err != nil {
		return err
	}
	h.Log.Info("chat question on screen", "id", id)
	return nil
}

// onScreenFrameLocked describes what is on screen now.
func (h *Hub) onScreenFrameLocked() onScreenFrame {
	f := onScreenFrame{Type: "onscreen"}
	if m := h.byID[h.onScreen]; h.onScreen != "" && m != nil {
		id := m.ID
		cf := newChatFrame(m)
		f.ID, f.Question = &id, &cf
	}
	return f
}

// OnScreen returns the question on screen, if any.
func (h *Hub) OnScreen() (Message, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.byID[h.onScreen]; h.onScreen != "" && m != nil {
		return *m, true
	}
	return Message{}, false
}
