package web

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/salon/salon/archive"
)

// slideHandlers serve the slides and the speaker: speaker links, uploads,
// deletes, the page changes that follow the speaker (slide_sync.go), and the
// speaker's page (slides_pages.go).
type slideHandlers struct {
	slides       slideLibrary
	talks        talkGetter
	maxUpload    int64 // MaxUploadSize
	speakerLinks *speakerLinks
	log          *slog.Logger
	*chatHubs
	*responder
	*renderer
	*auth
}

// slideLibrary is what the slides API needs from the replay library;
// *archive.Library satisfies it.
type slideLibrary interface {
	AddSlide(ctx context.Context, id string, up archive.SlideUpload) (archive.Slide, error)
	DeleteSlide(ctx context.Context, id, name string, check func(archive.Talk) error) error
	IssueSpeakerToken(ctx context.Context, id string) (string, error)
	RevokeSpeakerToken(ctx context.Context, id string) error
	// SpeakerTalk is the talk a speaker token belongs to.
	SpeakerTalk(token string) (id string, ok bool)
}

const (
	// DefaultMaxUpload is the default cap on one slide file.
	DefaultMaxUpload = 200 << 20
	// multipartSlack is what a multipart body may hold besides the file:
	// boundaries, part headers, a few small fields.
	multipartSlack = 64 << 10
)

// errSpeakerEnded refuses a speaker's change to an ended talk.
var errSpeakerEnded = errors.New("the talk has ended: its slides can no longer be changed with the speaker link; ask the organiser")

// bearer returns the request's bearer token.
func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return tok
}

func (s *auth) isAdmin(tok string) bool {
	return s.adminToken != "" && tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.adminToken)) == 1
}

// speakerCheck, for a speaker, refuses changes once the talk has ended; the
// organiser may change slides at any time.
func speakerCheck(speaker bool) func(archive.Talk) error {
	if !speaker {
		return nil
	}
	return func(t archive.Talk) error {
		if t.HasEnded() {
			return errSpeakerEnded
		}
		return nil
	}
}

// requireSpeaker lets the organiser, or the speaker of talk id, through: a
// malformed id is 404, no token or an unknown one 401, another talk's token
// 403. Nothing of the request body has been read when it refuses.
func (s *slideHandlers) requireSpeaker(w http.ResponseWriter, r *http.Request, id string) (speaker, ok bool) {
	if !archive.ValidTalkID(id) {
		s.jsonError(w, http.StatusNotFound, "no such talk: talk ids are 1–64 of a-z, 0-9 and -")
		return false, false
	}
	if used, ok := s.sessionAdmin(w, r); used { // the organiser's console
		return false, ok
	}
	tok := bearer(r)
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="salon"`)
		s.jsonError(w, http.StatusUnauthorized, "speaker or admin token required: send Authorization: Bearer TOKEN (the token of your speaker link)")
		return false, false
	}
	if s.isAdmin(tok) {
		return false, true
	}
	tid, known := s.slides.SpeakerTalk(tok)
	switch {
	case !known:
		w.Header().Set("WWW-Authenticate", `Bearer realm="salon", error="invalid_token"`)
		s.jsonError(w, http.StatusUnauthorized, "this speaker link is not valid (revoked, replaced or mistyped); ask the organiser for a new one")
		return false, false
	case tid != id:
		s.jsonError(w, http.StatusForbidden, "this speaker link is for another talk")
		return false, false
	}
	return true, true
}

func (s *slideHandlers) register(rt *router) {
	ok := s.slides != nil && s.talks != nil
	rt.handle("POST /api/talks/{id}/speaker-link", rt.need(ok, noTalks, s.handleSpeakerLink))
	rt.handle("DELETE /api/talks/{id}/speaker-link", rt.need(ok, noTalks, s.handleSpeakerLinkRevoke))
	rt.handleBody("POST /api/talks/{id}/slides", s.maxUpload+multipartSlack, rt.need(ok, noTalks, s.handleSlideUpload))
	rt.handle("DELETE /api/talks/{id}/slides/{name}", rt.need(ok, noTalks, s.handleSlideDelete))
	rt.handle("POST /api/talks/{id}/slide", rt.need(ok, noTalks, s.handleSlideChange))
	rt.handle("GET /speak/{id}", s.handleSpeakPage)
}

// slideError maps the errors of uploads and deletes to statuses.
func (s *slideHandlers) slideError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, errSpeakerEnded):
		s.jsonError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, archive.ErrTooLarge), errors.As(err, &tooBig):
		// The rest of the body is not read: close instead of draining it.
		w.Header().Set("Connection", "close")
		s.jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than the limit of %d MB", s.maxUpload>>20))
	case errors.Is(err, archive.ErrUnsupportedType):
		s.jsonError(w, http.StatusUnsupportedMediaType, err.Error())
	case errors.Is(err, errBodyTooSlow):
		w.Header().Set("Connection", "close")
		s.jsonError(w, http.StatusRequestTimeout, errBodyTooSlow.Error())
	default:
		s.talkError(w, err)
	}
}

// slideJSON is the answer to an upload.
type slideJSON struct {
	archive.Slide
	URL string `json:"url"`
}

// slideURL is where the archive window serves a slide file.
func (s *slideHandlers) slideURL(id, name string) string {
	return s.url("/archive/" + archive.SlideKey(id, url.PathEscape(name)))
}

// handleSlideUpload takes POST /api/talks/{id}/slides: multipart/form-data
// with the deck in a part named "file". The part streams into the archive as
// it arrives (archive.Library.AddSlide): nothing is buffered besides the
// first bytes that tell its type, and nothing is stored when it is refused.
func (s *slideHandlers) handleSlideUpload(w http.ResponseWriter, r *http.Request) {
	// Every refusal comes before the body is read to its end: closing the
	// connection spares the client sending the rest (and tells a client that
	// waits for 100-continue not to send it at all).
	w.Header().Set("Connection", "close")
	id := r.PathValue("id")
	speaker, ok := s.requireSpeaker(w, r, id)
	if !ok {
		return
	}
	t, err := s.talks.Get(id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	if check := speakerCheck(speaker); check != nil {
		if err := check(t); err != nil {
			s.slideError(w, err)
			return
		}
	}
	limit := s.maxUpload
	if r.ContentLength > limit+multipartSlack {
		// Answered before a byte of the body is read; a client that sent
		// Expect: 100-continue never sends it.
		s.slideError(w, archive.ErrTooLarge)
		return
	}
	// The route caps the body at limit+multipartSlack (handleBody).
	mr, err := multipartReader(r)
	if err != nil {
		s.jsonError(w, http.StatusUnsupportedMediaType, "send multipart/form-data with the file in a field named file")
		return
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) || errors.Is(err, errBodyTooSlow) {
				s.slideError(w, err)
				return
			}
			s.jsonError(w, http.StatusBadRequest, "no field named file in the form: send the deck as file")
			return
		}
		if part.FormName() != "file" {
			continue // NextPart skips what is left of it
		}
		name := rawFileName(part.Header.Get("Content-Disposition"))
		by := archive.UploadedByOrganiser
		if speaker {
			by = archive.UploadedBySpeaker
		}
		sl, err := s.slides.AddSlide(r.Context(), id, archive.SlideUpload{
			Name: name, Body: part, MaxSize: limit, Check: speakerCheck(speaker), By: by,
		})
		if err != nil {
			if !errors.Is(err, archive.ErrTooLarge) && !errors.Is(err, archive.ErrUnsupportedType) && !errors.Is(err, archive.ErrInvalid) && !errors.Is(err, errBodyTooSlow) {
				s.log.Warn("slide upload failed", "talk", id, "error", err)
			}
			s.slideError(w, err)
			return
		}
		w.Header().Del("Connection")
		w.Header().Set("Location", s.slideURL(id, sl.Name))
		s.writeJSON(w, http.StatusCreated, slideJSON{Slide: sl, URL: s.slideURL(id, sl.Name)})
		return
	}
}

// uploadReadSize is how much of an upload's body is read at once. The
// multipart reader scans for its boundary in 4 KiB steps; reading the body in
// large blocks underneath keeps that from becoming one read syscall per 4 KiB.
const uploadReadSize = 256 << 10

// multipartReader is r.MultipartReader over a large read buffer.
func multipartReader(r *http.Request) (*multipart.Reader, error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return nil, http.ErrNotMultipart
	}
	return multipart.NewReader(bufio.NewReaderSize(r.Body, uploadReadSize), params["boundary"]), nil
}

// rawFileName is the file name a multipart part was sent with, as sent:
// mime/multipart's FileName cuts folders off, but a name with folders must
// reach archive.CleanSlideName, which refuses it. No name gives "slides".
func rawFileName(disposition string) string {
	_, params, err := mime.ParseMediaType(disposition)
	if err != nil || params["filename"] == "" {
		return "slides"
	}
	return params["filename"]
}

func (s *slideHandlers) handleSlideDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	speaker, ok := s.requireSpeaker(w, r, id)
	if !ok {
		return
	}
	if err := s.slides.DeleteSlide(r.Context(), id, r.PathValue("name"), speakerCheck(speaker)); err != nil {
		s.slideError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// speakerLinkJSON is the answer to POST /api/talks/{id}/speaker-link.
type speakerLinkJSON struct {
	Token string `json:"token"`
	URL   string `json:"url"`
}

// handleSpeakerLink issues a new speaker link; the previous one stops
// working. The token is shown once: salon keeps only its hash.
func (s *slideHandlers) handleSpeakerLink(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	id := r.PathValue("id")
	tok, err := s.slides.IssueSpeakerToken(r.Context(), id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	link := s.absURL(r, "/speak/"+id+"?token="+url.QueryEscape(tok))
	s.speakerLinks.set(id, link) // for its QR code (admin_talk.go)
	s.writeJSON(w, http.StatusCreated, speakerLinkJSON{Token: tok, URL: link})
}

func (s *slideHandlers) handleSpeakerLinkRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	if err := s.slides.RevokeSpeakerToken(r.Context(), r.PathValue("id")); err != nil {
		s.talkError(w, err)
		return
	}
	s.speakerLinks.forget(r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

// absURL is an absolute URL for a link people receive by mail: on
// PublicURL, else on the host the request came to.
func (s *responder) absURL(r *http.Request, path string) string {
	if s.publicURL != "" {
		return s.publicURL + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}
