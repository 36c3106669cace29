package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/salon/salon/archive"
)

// talkLibrary is the replay library as Server takes it (*archive.Library
// satisfies it): the union of what its handler groups use, each of which
// declares its own part. Errors wrap archive.ErrNotFound, ErrInvalid or
// ErrConflict.
type talkLibrary interface {
	talkStore
	talkSelector
	liveTalks
}

// talkHandlers serve the talks API: list, read, create, change, delete.
type talkHandlers struct {
	talks talkStore
	*responder
	*auth
	*hiddenTalks
}

// talkReader reads the talks.
type talkReader interface {
	List() []archive.Talk
	Get(id string) (archive.Talk, error)
}

// talkStore is the replay library as the talks API needs it.
type talkStore interface {
	talkReader
	Create(ctx context.Context, t archive.Talk) (archive.Talk, error)
	Update(ctx context.Context, id string, p archive.TalkPatch) (archive.Talk, error)
	Delete(ctx context.Context, id string) error
}

func (s *talkHandlers) register(rt *router) {
	ok := s.talks != nil
	rt.handle("GET /api/talks", rt.need(ok, noTalks, s.handleTalks))
	rt.handle("GET /api/talks/{id}", rt.need(ok, noTalks, s.handleTalk))
	rt.handle("POST /api/talks", rt.need(ok, noTalks, s.handleTalkCreate))
	rt.handle("PATCH /api/talks/{id}", rt.need(ok, noTalks, s.handleTalkPatch))
	rt.handle("DELETE /api/talks/{id}", rt.need(ok, noTalks, s.handleTalkDelete))
}

// talkJSON is a talk as the API shows it: talk.json plus derived fields.
type talkJSON struct {
	archive.Talk
	talkDerived
}

// talkDerived are the fields the API adds to talk.json.
type talkDerived struct {
	IsLive      bool    `json:"live"`
	Ended       bool    `json:"ended"`
	Duration    float64 `json:"duration,omitempty"` // seconds of recording
	PageURL     string  `json:"page_url"`
	PlaylistURL string  `json:"playlist_url,omitempty"`
	DownloadURL string  `json:"download_url,omitempty"`
	// SlidesTrackURL is the WebVTT track of the presenter's page changes
	// over the replay, once the talk has ended.
	SlidesTrackURL string `json:"slides_track_url,omitempty"`
}

// MarshalJSON writes talk.json's fields (through archive.Talk's own
// marshaller, which keeps unknown fields) followed by the derived ones.
func (t talkJSON) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(t.Talk)
	if err != nil {
		return nil, err
	}
	derived, err := json.Marshal(t.talkDerived)
	if err != nil {
		return nil, err
	}
	if len(base) < 2 || len(derived) <= 2 {
		return base, nil
	}
	if string(base) == "{}" {
		return derived, nil
	}
	out := append(base[:len(base)-1:len(base)-1], ',')
	return append(out, derived[1:]...), nil
}

func (s *responder) talkJSON(t archive.Talk) talkJSON { return talkView(s.publicURL, t) }

// TalkView returns a talk as the API and the chat's talk frames show it, with
// URLs under publicURL (empty: relative URLs). cmd gives it to the
// programme, which tells the stages' chats.
func TalkView(publicURL string) func(archive.Talk) any {
	publicURL = strings.TrimRight(publicURL, "/")
	return func(t archive.Talk) any { return talkView(publicURL, t) }
}

// talkView derives the API's fields. A do_not_record talk is never published:
// it gets no playlist, download or slide track URL.
func talkView(publicURL string, t archive.Talk) talkJSON {
	out := talkJSON{Talk: t}
	out.IsLive, out.PageURL = t.Live(), publicURL+"/talks/"+t.ID
	if t.Speakers == nil {
		out.Speakers = []archive.Speaker{}
	}
	if t.Recording != nil {
		end := time.Now()
		if t.Recording.End != nil {
			end = *t.Recording.End
			out.Ended = true
			if !t.DoNotRecord {
				out.DownloadURL = publicURL + "/talks/" + t.ID + "/download.mp4"
				if len(t.SlideChanges) > 0 {
					out.SlidesTrackURL = publicURL + "/archive/" + archive.SlidesVTTKey(t.ID)
				}
			}
		}
		out.Duration = end.Sub(t.Recording.Start).Round(time.Second).Seconds()
		if !t.DoNotRecord {
			out.PlaylistURL = publicURL + "/archive/talks/" + t.ID + "/index.m3u8"
		}
	}
	return out
}

// talkError maps the library's errors to statuses.
func (s *responder) talkError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, archive.ErrNotFound):
		s.jsonError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, archive.ErrInvalid):
		s.jsonError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, archive.ErrConflict):
		s.jsonError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		s.jsonError(w, http.StatusServiceUnavailable, "the archive did not answer in time; try again")
	default:
		s.log.Error("talk library", "error", err)
		s.jsonError(w, http.StatusInternalServerError, "the archive failed: "+err.Error())
	}
}

// decodeBody reads one JSON object into v, refusing unknown fields and
// trailing data so that a typo is an error, not silently ignored.
func (s *responder) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		s.jsonError(w, http.StatusUnsupportedMediaType, "send JSON with Content-Type: application/json")
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
			return false
		}
		if errors.Is(err, errBodyTooSlow) {
			s.jsonError(w, http.StatusRequestTimeout, err.Error())
			return false
		}
		s.jsonError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		s.jsonError(w, http.StatusBadRequest, "malformed JSON body: one object expected")
		return false
	}
	return true
}

func (s *talkHandlers) handleTalks(w http.ResponseWriter, r *http.Request) {
	talks := s.visibleTalks(r, s.talks.List())
	out := make([]talkJSON, 0, len(talks))
	for _, t := range talks {
		out = append(out, s.talkJSON(t))
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *talkHandlers) handleTalk(w http.ResponseWriter, r *http.Request) {
	if s.hideTalk(w, r, r.PathValue("id")) {
		return
	}
	t, err := s.talks.Get(r.PathValue("id"))
	if err != nil {
		s.talkError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, s.talkJSON(t))
}

// talkCreate is the body of POST /api/talks.
type talkCreate struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Speakers    []archive.Speaker `json:"speakers"`
	Stage       string            `json:"stage"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at"`
	Abstract    string            `json:"abstract"`
	GUID        string            `json:"guid"`
	Slug        string            `json:"slug"`
	Track       string            `json:"track"`
	Language    string            `json:"language"`
	DoNotRecord bool              `json:"do_not_record"`
}

func (s *talkHandlers) handleTalkCreate(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	var in talkCreate
	if !s.decodeBody(w, r, &in) {
		return
	}
	t, err := s.talks.Create(r.Context(), archive.Talk{
		ID: in.ID, Title: in.Title, Speakers: in.Speakers, Stage: in.Stage,
		StartsAt: in.StartsAt, EndsAt: in.EndsAt, Abstract: in.Abstract,
		GUID: in.GUID, Slug: in.Slug, Track: in.Track, Language: in.Language, DoNotRecord: in.DoNotRecord,
	})
	if err != nil {
		s.talkError(w, err)
		return
	}
	w.Header().Set("Location", "/api/talks/"+t.ID)
	s.writeJSON(w, http.StatusCreated, s.talkJSON(t))
}

func (s *talkHandlers) handleTalkPatch(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	var p archive.TalkPatch
	if !s.decodeBody(w, r, &p) {
		return
	}
	t, err := s.talks.Update(r.Context(), r.PathValue("id"), p)
	if err != nil {
		s.talkError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, s.talkJSON(t))
}

func (s *talkHandlers) handleTalkDelete(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	if err := s.talks.Delete(r.Context(), r.PathValue("id")); err != nil {
		s.talkError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleTalkStart and handleTalkStop start and stop a talk by hand through
// the programme (admin); the talk's stage's chat is told at once, and a
// stop's end-of-talk work is spooled before the answer.
func (s *programmeHandlers) handleTalkStart(w http.ResponseWriter, r *http.Request) {
	s.talkTransition(w, r, s.programme.Start)
}

func (s *programmeHandlers) handleTalkStop(w http.ResponseWriter, r *http.Request) {
	s.talkTransition(w, r, s.programme.Stop)
}

func (s *programmeHandlers) talkTransition(w http.ResponseWriter, r *http.Request,
	do func(context.Context, string) (archive.Talk, error)) {
	if !s.requireAdmin(w, r) {
		return
	}
	t, err := do(r.Context(), r.PathValue("id"))
	if err != nil {
		s.talkError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, s.talkJSON(t))
}
