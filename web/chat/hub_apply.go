package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Every change of a room goes through its log (roomlog.go): the hub checks
// a request against its state (banned? rate limited? does the question
// exist?), commits a record, and changes its state only in applyLocked,
// when the log delivers the record. With the local journal the delivery
// happens inside commit; with a replicated log it comes from the log's
// consumer, on every node, in the log's order. applyLocked therefore checks
// again what it relies on: another node's change may have come first.

// commitTimeout bounds how long a change waits for the log (a cluster
// electing a new leader takes a few seconds).
const commitTimeout = 10 * time.Second

// openLog opens the stage's log, which replays what it holds.
func (h *Hub) openLog() error {
	var err error
	switch {
	case h.Logs != nil:
		h.roomLog, err = h.Logs.OpenRoomLog(h.Stage, h.deliver)
	case h.JournalPath != "":
		h.roomLog, err = openJournal(h.JournalPath, h.FlushEvery, h.Log, h.deliver)
	default:
		h.roomLog = &memoryLog{deliver: h.deliver}
	}
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opened = true
	if m := h.byID[h.onScreen]; m == nil || m.Deleted {
		h.onScreen = ""
	}
	if h.badRecords > 0 {
		h.Log.Warn("chat log has records that do not decode; skipped them", "records", h.badRecords)
	}
	if h.replayed > 0 {
		h.Log.Info("chat restored from its log", "records", h.replayed, "messages", len(h.log), "banned", len(h.bannedIDs), "slow_mode", h.slowMode)
	}
	return nil
}

// commit appends rec to the room's log under id (a message's id, else a
// new one). When it returns nil, the change has been applied here.
func (h *Hub) commit(id string, rec logRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("chat on stage %s: encode a change: %w", h.Stage, err)
	}
	if id == "" {
		id = newID()
	}
	ctx, cancel := context.WithTimeout(h.ctx, commitTimeout)
	defer cancel()
	if err := h.roomLog.Append(ctx, h.Stage+"-"+id, data); err != nil {
		h.Log.Error("chat change not made: the chat log did not take it", "err", err)
		return fmt.Errorf("chat on stage %s: %w (%w)", h.Stage, ErrUnavailable, err)
	}
	return nil
}

// deliver is the log's delivery of one record.
func (h *Hub) deliver(data []byte) {
	rec, ok := decodeRecord(data)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.opened {
		h.replayed++
		if !ok {
			h.badRecords++
			return
		}
	} else if !ok {
		h.Log.Warn("chat log delivered a record that does not decode; skipped it", "bytes", len(data))
		return
	}
	if h.closed {
		return
	}
	h.applyLocked(&rec)
}

// applyLocked applies one record to the hub's state and tells the viewers
// connected here. mu held.
func (h *Hub) applyLocked(rec *logRecord) {
	switch {
	case rec.Msg != nil:
		h.applyMessageLocked(rec)
	case rec.Vote != "":
		m := h.byID[rec.Vote]
		if m == nil || m.Deleted || !m.Question || h.votedLocked(m.ID, rec.Voters) {
			return
		}
		h.addVotersLocked(m.ID, rec.Voters)
		m.Votes++
		h.tellLocked(votesFrame{Type: "votes", ID: m.ID, Count: m.Votes})
	case rec.Delete != "":
		if m := h.byID[rec.Delete]; m != nil && !m.Deleted {
			h.deleteLocked(m)
		}
	case rec.Answered != "":
		m := h.byID[rec.Answered]
		if m == nil || m.Deleted || !m.Question || m.Answered {
			return
		}
		m.Answered = true
		h.tellLocked(idFrame{Type: "answered", ID: m.ID})
	case rec.Ban != nil:
		if h.Now().Sub(rec.Ban.Time) >= h.BanFor {
			return // a ban of an earlier day, replayed
		}
		h.addBanLocked(rec.Ban)
		for _, c := range h.clients {
			if h.isBannedLocked(c) {
				h.disconnectBannedLocked(c)
			}
		}
	case rec.Slow != nil:
		h.slowMode = time.Duration(rec.Slow.Seconds * float64(time.Second))
	case rec.Slide != nil:
		h.appendSlideLocked(*rec.Slide)
		h.tellLocked(slideFrame{Type: "slide", Talk: rec.Slide.Talk, Page: rec.Slide.Page})
	case rec.OnScreen != nil:
		id := rec.OnScreen.ID
		if m := h.byID[id]; id != "" && (m == nil || m.Deleted || !m.Question) {
			return
		}
		if h.onScreen != id {
			h.onScreen = id
			h.tellLocked(h.onScreenFrameLocked())
		}
	case rec.Talk != nil:
		h.applyTalkLocked(rec.Talk)
	}
}

// applyMessageLocked adds a new message. A record of a message already
// known is a journal written before records said what happened (it held a
// message's later state as the whole message again), or a record written
// twice (a batch the journal retried): both only ever move a message
// forward, so its votes take the larger count and deleted and answered
// stay once set.
func (h *Hub) applyMessageLocked(rec *logRecord) {
	if len(rec.Voters) > 0 {
		h.addVotersLocked(rec.Msg.ID, rec.Voters)
	}
	if m := h.byID[rec.Msg.ID]; m != nil {
		m.Votes = max(m.Votes, rec.Msg.Votes)
		m.Answered = m.Answered || rec.Msg.Answered
		if rec.Msg.Deleted && !m.Deleted {
			h.deleteLocked(m)
		}
		return
	}
	m := rec.Msg
	if m.ClientID != "" {
		if rec.IP != "" {
			h.clientIPs[m.ClientID] = rec.IP
		}
		if rec.Viewer != "" {
			h.viewerOf[m.ClientID] = rec.Viewer
		}
	}
	h.appendLocked(m)
	if !m.Deleted {
		h.tellLocked(newChatFrame(m))
	}
}

// deleteLocked marks m deleted, takes it out of the history and questions
// (and off the screen) and tells the viewers.
func (h *Hub) deleteLocked(m *Message) {
	m.Deleted = true
	h.history = removeMessage(h.history, m)
	h.questions = removeMessage(h.questions, m)
	h.tellLocked(idFrame{Type: "delete", ID: m.ID})
	if h.onScreen == m.ID {
		h.onScreen = ""
		h.tellLocked(h.onScreenFrameLocked())
	}
}

// tellLocked broadcasts v to the viewers connected here; with none (a log
// being replayed) nothing is encoded.
func (h *Hub) tellLocked(v any) {
	if len(h.clients) == 0 {
		return
	}
	h.broadcastLocked(h.prepare(v))
}

// unavailable turns a commit's error into the viewer's error frame.
func unavailable(err error) *frameError {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return nil // the hub is closing
	}
	return &frameError{CodeUnavailable, "chat is unavailable for a moment; your message was not sent, send it again"}
}
