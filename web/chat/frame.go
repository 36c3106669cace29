package chat

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/salon/salon/internal/textclean"
)

// Error codes of the contract's {"type":"error"} frame.
const (
	CodeRateLimited = "rate_limited"
	CodeTooLong     = "too_long"
	CodeBadRequest  = "bad_request"
	CodeBanned      = "banned"
	// CodeUnavailable: the room's log did not take the message (a cluster
	// without a majority); it was not sent and may be sent again.
	CodeUnavailable = "unavailable"
)

// Message is one chat message as the hub keeps it and as the archive stores it
// (one JSON object per line of talks/{id}/chat.jsonl). The wire frame sent to
// viewers is built from it by chatFrame and never carries ClientID.
type Message struct {
	ID       string    `json:"id"`
	Talk     string    `json:"talk,omitempty"`   // talk live when it was sent; empty for none
	ClientID string    `json:"client,omitempty"` // connection identity, for moderation
	Name     string    `json:"name"`
	Text     string    `json:"text"` // plain text: control characters except '\n' stripped
	Time     time.Time `json:"ts"`   // UTC
	Question bool      `json:"question,omitempty"`
	Votes    int       `json:"votes,omitempty"`
	Answered bool      `json:"answered,omitempty"` // a question the organiser or speaker marked answered
	Deleted  bool      `json:"deleted,omitempty"`  // deleted by a moderator: kept for the record, never shown
}

// TimeLayout is RFC 3339 in UTC with milliseconds, so a replay can place a
// message between two video frames.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// chatFrame is the contract's {"type":"chat",...} frame.
type chatFrame struct {
	Type     string  `json:"type"`
	ID       string  `json:"id"`
	Talk     *string `json:"talk"`
	Name     string  `json:"name"`
	Text     string  `json:"text"`
	TS       string  `json:"ts"`
	Question bool    `json:"question,omitempty"`
	Votes    int     `json:"votes,omitempty"`
	Answered bool    `json:"answered,omitempty"`
}

func newChatFrame(m *Message) chatFrame {
	f := chatFrame{
		Type:     "chat",
		ID:       m.ID,
		Name:     m.Name,
		Text:     m.Text,
		TS:       m.Time.UTC().Format(TimeLayout),
		Question: m.Question,
		Votes:    m.Votes,
		Answered: m.Answered,
	}
	if m.Talk != "" {
		t := m.Talk
		f.Talk = &t
	}
	return f
}

type you struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type welcomeFrame struct {
	Type      string      `json:"type"`
	You       you         `json:"you"`
	History   []chatFrame `json:"history"`
	Questions []chatFrame `json:"questions"`       // recent questions, older than history too
	Slide     *slideFrame `json:"slide,omitempty"` // the page last shown
	Talk      any         `json:"talk"`
	Viewers   int         `json:"viewers"`
	OnScreen  *chatFrame  `json:"onscreen"` // the question on the room's screen, or null
}

type slideFrame struct {
	Type string `json:"type"`
	Talk string `json:"talk"`
	Page int    `json:"page"`
}

type viewersFrame struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

type talkFrame struct {
	Type string `json:"type"`
	Talk any    `json:"talk"`
}

type idFrame struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type votesFrame struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Count int    `json:"count"`
}

type errorFrame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// clientFrame is a decoded, validated frame from a viewer. Kind is one of
// "hello", "chat", "question", "vote".
type clientFrame struct {
	Kind   string
	Name   string // hello; "" keeps the current name
	Viewer string // hello: the browser's viewer key, optional
	Text   string // chat, question
	ID     string // vote
}

// frameError is a refusal to send back as an error frame; the connection lives on.
type frameError struct {
	Code    string
	Message string
}

func (e *frameError) Error() string { return e.Code + ": " + e.Message }

// maxIDLen bounds ids a client may quote back (votes); real ids are much shorter.
const maxIDLen = 64

// decodeFrame parses and validates one client frame. Text and names come back
// trimmed and stripped of control characters; lengths count characters (runes)
// after that, so what is checked is what is stored.
func decodeFrame(data []byte, maxText, maxName int) (clientFrame, *frameError) {
	var raw struct {
		Type   string `json:"type"`
		Name   string `json:"name"`
		Viewer string `json:"viewer"`
		Text   string `json:"text"`
		ID     string `json:"id"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return clientFrame{}, &frameError{CodeBadRequest, "frame is not a JSON object: send {\"type\":\"chat\",\"text\":\"…\"}"}
	}
	switch raw.Type {
	case "hello":
		name := strings.TrimSpace(textclean.Line(raw.Name))
		n := utf8.RuneCountInString(name)
		if raw.Viewer != "" && !validViewerKey(raw.Viewer) {
			return clientFrame{}, &frameError{CodeBadRequest, "viewer must be 16-64 of A-Z, a-z, 0-9, - and _"}
		}
		if n == 0 && raw.Viewer == "" {
			return clientFrame{}, &frameError{CodeBadRequest, "name is empty"}
		}
		if n > maxName {
			return clientFrame{}, &frameError{CodeTooLong, "name is longer than " + strconv.Itoa(maxName) + " characters"}
		}
		return clientFrame{Kind: "hello", Name: name, Viewer: raw.Viewer}, nil
	case "chat", "question":
		text := strings.TrimSpace(textclean.Block(raw.Text))
		n := utf8.RuneCountInString(text)
		if n == 0 {
			return clientFrame{}, &frameError{CodeBadRequest, "text is empty"}
		}
		if n > maxText {
			return clientFrame{}, &frameError{CodeTooLong, "text is longer than " + strconv.Itoa(maxText) + " characters"}
		}
		return clientFrame{Kind: raw.Type, Text: text}, nil
	case "vote":
		if raw.ID == "" || len(raw.ID) > maxIDLen {
			return clientFrame{}, &frameError{CodeBadRequest, "vote needs the id of a question"}
		}
		return clientFrame{Kind: "vote", ID: raw.ID}, nil
	case "":
		return clientFrame{}, &frameError{CodeBadRequest, "frame has no type"}
	default:
		return clientFrame{}, &frameError{CodeBadRequest, "unknown frame type (want hello, chat, question or vote)"}
	}
}

// validViewerKey reports whether k is a viewer key as pages make them: a
// random string the browser keeps, so that a ban outlives a reload.
func validViewerKey(k string) bool {
	if len(k) < 16 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
