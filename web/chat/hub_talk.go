package chat

import "encoding/json"

// The talk live on the stage stamps every message and is in the welcome
// frame. On one node the hub asks the programme (Talks) when it needs it,
// and TalkChanged only tells the viewers. On a cluster (TalksFromLog) the
// programme that started or stopped the talk may run on another node, so
// TalkChanged commits the change to the room's log, and every node stamps
// messages with, and welcomes viewers to, the talk the log says: messages
// posted anywhere then belong to the talk, and its chat archive has them
// all.

// talkRecord is the log's record of a talk change; ID "" is no talk.
type talkRecord struct {
	ID   string          `json:"id"`
	View json.RawMessage `json:"view,omitempty"`
}

// TalkChanged tells every viewer the live talk changed
// ({"type":"talk","talk":talk}); id "" (talk nil) means none is live. With
// TalksFromLog the change goes through the room's log, to every node.
func (h *Hub) TalkChanged(id string, talk any) error {
	if !h.TalksFromLog {
		h.broadcast(talkFrame{Type: "talk", Talk: talk})
		return nil
	}
	rec := &talkRecord{ID: id}
	if id != "" {
		view, err := json.Marshal(talk)
		if err != nil {
			return err
		}
		rec.View = view
	}
	return h.commit("", logRecord{Talk: rec})
}

// applyTalkLocked takes the log's talk change.
func (h *Hub) applyTalkLocked(rec *talkRecord) {
	if !h.TalksFromLog {
		return // a one-node journal has none; Talks is the truth here
	}
	h.talkID, h.talkView = rec.ID, rec.View
	var talk any
	if rec.ID != "" {
		talk = rec.View
	}
	h.tellLocked(talkFrame{Type: "talk", Talk: talk})
}

// liveTalkLocked is the talk live on the stage: its id and what pages get.
func (h *Hub) liveTalkLocked() (string, any, bool) {
	if h.TalksFromLog {
		if h.talkID == "" {
			return "", nil, false
		}
		return h.talkID, h.talkView, true
	}
	if h.Talks == nil {
		return "", nil, false
	}
	return h.Talks.LiveOn(h.Stage)
}
