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
	// StartsAt and EndsAt are the schedule; zero (unknown) is left out of
	// the JSON, never written as 0001-01-01.
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	Abstract string    `json:"abstract,omitempty"`
	// GUID is the schedule's event guid (pretalx, frab): re-imports match
	// talks by it. Empty for talks made by hand.
	GUID string `json:"guid,omitempty"`
	// Slug is the schedule's slug of the event, kept for links back to it.
	Slug     string `json:"slug,omitempty"`
	Track    string `json:"track,omitempty"`
	Language string `json:"language,omitempty"`
	// DoNotRecord: the speaker asked not to be recorded. Such a talk is
	// never cut nor published; it still shows in the programme.
	DoNotRecord bool `json:"do_not_record,omitempty"`
	// Hidden: the organiser withdrew the talk from the public pages (its
	// page, the programme, the replay library and /api/talks for anyone but
	// an admin). Nothing is deleted; publishing it again is one PATCH.
	Hidden bool `json:"hidden,omitempty"`
	// Recording is the window of the stage's recording that is the replay:
	// nil before the talk started, End nil while it is live.
	Recording *Window `json:"recording,omitempty"`
	// Slides are the files below talks/{id}/slides/, in upload order.
	Slides []Slide `json:"slides,omitempty"`
	// SlideChanges are the presenter's page changes during the talk, in
	// wall-clock time; talks/{id}/slides.vtt is rendered from them over the
	// replay.
	SlideChanges []SlideChange `json:"slide_changes,omitempty"`
	// Captions are the caption tracks below talks/{id}/captions/, one per
	// language (captions.go).
	Captions []Caption `json:"captions,omitempty"`

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
	Title       *string    `json:"title"`
	Speakers    *[]Speaker `json:"speakers"`
	Stage       *string    `json:"stage"`
	StartsAt    *time.Time `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"`
	Abstract    *string    `json:"abstract"`
	Recording   *Window    `json:"recording"` // a corrected window re-cuts the replay
	GUID        *string    `json:"guid"`
	Slug        *string    `json:"slug"`
	Track       *string    `json:"track"`
	Language    *string    `json:"language"`
	DoNotRecord *bool      `json:"do_not_record"`
	Hidden      *bool      `json:"hidden"`
}
