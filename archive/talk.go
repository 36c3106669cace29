package archive

import (
	"encoding/json"
	"errors"
	"time"
)

// Errors of the talk library; wrap them with a message a person can act on.
var (
	ErrInvalid  = errors.New("invalid")  // bad input: 400
	ErrConflict = errors.New("conflict") // state does not allow it: 409
)

// TalkVersion is the version of talk.json this code writes.
const TalkVersion = 1

// Talk is one talk of the programme, stored as talks/{id}/talk.json.
// Fields this version does not know are kept on rewrite (Extra).
type Talk struct {
	Version  int       `json:"version"`
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Speakers []Speaker `json:"speakers"`
	Stage    string    `json:"stage"`
	StartsAt time.Time `json:"starts_at"` // schedule
	EndsAt   time.Time `json:"ends_at"`
	Abstract string    `json:"abstract,omitempty"`
	// Recording is the window of the stage's recording that is the replay:
	// nil before the talk started, End nil while it is live.
	Recording *Window `json:"recording,omitempty"`
	// Slides are the files below talks/{id}/slides/, in upload order.
	Slides []Slide `json:"slides,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// Speaker is one speaker of a talk.
type Speaker struct {
	Name string `json:"name"`
}

// Window is a span of wall-clock time (matched against EXT-X-PROGRAM-DATE-TIME).
type Window struct {
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end,omitempty"`
}

// Live tells whether the talk is being recorded now.
func (t *Talk) Live() bool { return t.Recording != nil && t.Recording.End == nil }

// HasEnded tells whether the talk's recording has stopped.
func (t *Talk) HasEnded() bool { return t.Recording != nil && t.Recording.End != nil }

// TalkPatch is a partial update (PATCH /api/talks/{id}): nil fields are kept.
type TalkPatch struct {
	Title     *string    `json:"title"`
	Speakers  *[]Speaker `json:"speakers"`
	Stage     *string    `json:"stage"`
	StartsAt  *time.Time `json:"starts_at"`
	EndsAt    *time.Time `json:"ends_at"`
	Abstract  *string    `json:"abstract"`
	Recording *Window    `json:"recording"` // a corrected window re-cuts the replay
}
