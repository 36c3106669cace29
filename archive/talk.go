package archive

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/salon/salon/internal/textclean"
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

// clone copies t deeply, so that callers cannot change the library's copy.
func (t Talk) clone() Talk {
	c := t
	c.Speakers = slices.Clone(t.Speakers)
	c.Slides = slices.Clone(t.Slides)
	c.SlideChanges = slices.Clone(t.SlideChanges)
	c.Captions = slices.Clone(t.Captions)
	if t.Recording != nil {
		w := *t.Recording
		if w.End != nil {
			e := *w.End
			w.End = &e
		}
		c.Recording = &w
	}
	if t.Extra != nil {
		c.Extra = maps.Clone(t.Extra)
		for k, v := range c.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return c
}

// normalize keeps times in UTC without monotonic readings, so that they
// compare and encode the same before and after a round trip, and passes every
// field a person reads through salon's one text rule (internal/textclean),
// whether it came from the API, a schedule or an older talk.json.
func normalize(t Talk) Talk {
	t.Title = textclean.Line(t.Title)
	for i := range t.Speakers {
		t.Speakers[i].Name = textclean.Line(t.Speakers[i].Name)
	}
	t.Abstract = textclean.Block(t.Abstract)
	t.Track = textclean.Line(t.Track)
	t.Slug = textclean.Line(t.Slug)
	t.Language = textclean.Line(t.Language)
	t.StartsAt, t.EndsAt = t.StartsAt.UTC(), t.EndsAt.UTC()
	for i := range t.Slides {
		t.Slides[i].UploadedAt = t.Slides[i].UploadedAt.UTC()
	}
	for i := range t.SlideChanges {
		t.SlideChanges[i].At = t.SlideChanges[i].At.UTC()
	}
	for i := range t.Captions {
		t.Captions[i].UpdatedAt = t.Captions[i].UpdatedAt.UTC()
	}
	if t.Recording != nil {
		t.Recording.Start = t.Recording.Start.UTC()
		if t.Recording.End != nil {
			e := t.Recording.End.UTC()
			t.Recording.End = &e
		}
	}
	return t
}
