package chat

import (
	"encoding/json"
	"time"
)

// A logRecord is one change of a room, as its log (roomlog.go) keeps it: a
// message, a vote, a deletion, an answer, a ban, slow mode, a slide page,
// the question on screen. The local journal stores one per line; the
// clustered log one per stream message. Exactly one kind is set.
//
// Records say what happened, never the state that resulted ("one vote by
// these keys", not "votes: 5"), so hubs on several nodes that apply the same
// records in the same order agree, whoever proposed them concurrently.
// Journals written before clustering hold a message's later changes as the
// whole message again (Msg with an id already seen); applyLocked still
// reads those.
type logRecord struct {
	Msg *Message `json:"msg,omitempty"`
	// The author's address and viewer key, with a message's first record,
	// so that banning its author works after a restart and on every node.
	IP     string `json:"ip,omitempty"`
	Viewer string `json:"viewer,omitempty"`
	// Vote is the question voted for; Voters, with it (or with a vote's
	// Msg in older journals), are the voter's hashed keys (votes.go), so
	// one viewer's vote stays one vote after a restart and across nodes.
	Vote     string   `json:"vote,omitempty"`
	Voters   []string `json:"voters,omitempty"`
	Delete   string   `json:"delete,omitempty"`   // a message deleted by a moderator
	Answered string   `json:"answered,omitempty"` // a question marked answered

	Ban   *banRecord  `json:"ban,omitempty"`
	Slow  *slowRecord `json:"slow_mode,omitempty"`
	Slide *Slide      `json:"slide,omitempty"`
	// OnScreen is the question the organiser put on the room's screen
	// (hub_onscreen.go).
	OnScreen *onScreenRecord `json:"onscreen,omitempty"`
	// Talk is the talk live on the stage from now on, as the node whose
	// programme changed it saw it (hub_talk.go); only in a cluster's log.
	Talk *talkRecord `json:"talk,omitempty"`
}

// banRecord is a ban as the log keeps it.
type banRecord struct {
	Client string    `json:"client,omitempty"`
	Viewer string    `json:"viewer,omitempty"`
	IP     string    `json:"ip,omitempty"`
	Time   time.Time `json:"ts"`
}

// slowRecord is a slow-mode change.
type slowRecord struct {
	Seconds float64 `json:"seconds"`
}

// maxRecord bounds one encoded record: messages are 500 characters, so
// anything near this is corruption.
const maxRecord = 64 << 10

// decodeRecord decodes and checks one record read from a log; false for
// anything that is not exactly one well-formed change.
func decodeRecord(data []byte) (logRecord, bool) {
	var rec logRecord
	if len(data) > maxRecord || json.Unmarshal(data, &rec) != nil || !rec.valid() {
		return logRecord{}, false
	}
	return rec, true
}

func (r *logRecord) valid() bool {
	kinds := 0
	for _, set := range []bool{r.Msg != nil, r.Vote != "", r.Delete != "", r.Answered != "",
		r.Ban != nil, r.Slow != nil, r.Slide != nil, r.OnScreen != nil, r.Talk != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return false
	}
	switch {
	case r.Msg != nil:
		return r.Msg.ID != "" && len(r.Msg.ID) <= maxIDLen
	case r.Vote != "":
		return len(r.Vote) <= maxIDLen && len(r.Voters) > 0
	case r.Delete != "":
		return len(r.Delete) <= maxIDLen
	case r.Answered != "":
		return len(r.Answered) <= maxIDLen
	case r.Slow != nil:
		return r.Slow.Seconds >= 0
	case r.Slide != nil:
		return r.Slide.Page >= 1 && r.Slide.Talk != ""
	case r.OnScreen != nil:
		return len(r.OnScreen.ID) <= maxIDLen
	case r.Talk != nil:
		return len(r.Talk.ID) <= maxIDLen && (r.Talk.ID == "") == (len(r.Talk.View) == 0)
	}
	return true // a ban
}
