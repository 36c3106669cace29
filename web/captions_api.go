package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/captions"
	"github.com/salon/salon/ingest/stream"
)

// captionHandlers serve a talk's caption tracks (upload, read, delete), the
// cues posted live on a stage, and the live subtitle rendition's files
// (captions_live.go).
type captionHandlers struct {
	talks captionLibrary
	live  liveCaptions  // may be nil: live cues answer 503
	subs  liveSubtitles // may be nil: no live subtitle rendition
	// relay serves the subtitle rendition of a stage another node
	// ingests, as the rest of its live files (live_relay.go).
	relay    liveRelay
	speakers *slideHandlers
	log      *slog.Logger
	*responder
	*auth
	*hiddenTalks
}

// captionLibrary is what the captions API needs from the replay library;
// *archive.Library satisfies it.
type captionLibrary interface {
	Get(id string) (archive.Talk, error)
	LiveOn(stage string) (archive.Talk, bool)
	PutCaptions(ctx context.Context, id string, tr archive.CaptionTrack) (archive.Caption, error)
	DeleteCaptions(ctx context.Context, id, lang string, check func(archive.Talk) error) error
	CaptionFile(ctx context.Context, id, lang string) ([]byte, error)
}

// liveCaptions takes the cues posted live and gives them to the pages;
// *captions.Live satisfies it.
type liveCaptions interface {
	Add(stage, lang, text string) (captions.LiveCue, error)
	Langs(stage string) []string
	Span(stage, lang string, from, to time.Time) []captions.Timed
}

// liveSubtitles serves the live subtitle rendition; *hls.Manager satisfies it.
type liveSubtitles interface {
	SubtitlePlaylist(stage, lang string) ([]byte, int)
	SubtitleSegment(stage, lang string, seq uint64) ([]byte, bool)
}

// captionBodyLimit caps an uploaded caption file: the parser's own cap, and
// a little for a client that sends more (refused with 413 either way).
const captionBodyLimit = captions.DefaultMaxBytes + 1

const noLiveCaptions = "live captions are not configured"

func (s *captionHandlers) register(rt *router) {
	ok := s.talks != nil && s.speakers != nil && s.speakers.slides != nil
	rt.handleBody("PUT /api/talks/{id}/captions/{lang}", captionBodyLimit, rt.need(ok, noTalks, s.handlePut))
	rt.handle("GET /api/talks/{id}/captions/{lang}", rt.need(ok, noTalks, s.handleGet))
	rt.handle("DELETE /api/talks/{id}/captions/{lang}", rt.need(ok, noTalks, s.handleDelete))
	rt.handle("POST /api/stages/{stage}/captions", rt.need(ok && s.live != nil, noLiveCaptions, s.handleLiveCue))
	rt.handle("GET /api/stages/{stage}/captions", rt.need(s.live != nil, noLiveCaptions, s.handleLiveCues))
	rt.handle("GET /live/{stage}/captions/{lang}/{file}", s.handleSubtitleFile)
}

// requestLang reads {lang}: a BCP 47 tag, canonical form.
func (s *captionHandlers) requestLang(w http.ResponseWriter, r *http.Request) (string, bool) {
	lang, err := captions.CanonicalLang(r.PathValue("lang"))
	if err != nil {
		s.jsonError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return lang, true
}

// handlePut takes PUT /api/talks/{id}/captions/{lang}: a WebVTT or SRT file
// as the body, from the organiser or the talk's speaker (until the talk has
// ended). It is parsed before anything is stored; a refusal names the line.
func (s *captionHandlers) handlePut(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	speaker, ok := s.speakers.requireSpeaker(w, r, id)
	if !ok {
		return
	}
	lang, ok := s.requestLang(w, r)
	if !ok {
		return
	}
	if r.ContentLength > captions.DefaultMaxBytes {
		w.Header().Set("Connection", "close")
		s.jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the caption file is larger than the limit of %d MB", captions.DefaultMaxBytes>>20))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !captionType(ct) {
		s.jsonError(w, http.StatusUnsupportedMediaType, "send the WebVTT or SRT file itself as the body (Content-Type: text/vtt, application/x-subrip or text/plain)")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.Header().Set("Connection", "close")
			s.jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the caption file is larger than the limit of %d MB", captions.DefaultMaxBytes>>20))
			return
		}
		s.jsonError(w, http.StatusBadRequest, "the upload did not arrive whole: "+err.Error())
		return
	}
	cues, format, err := captions.Parse(body, captions.Limits{})
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, captions.ErrTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		s.jsonError(w, status, "the caption file is refused: "+err.Error())
		return
	}
	if len(cues) == 0 {
		s.jsonError(w, http.StatusBadRequest, "the caption file has no cue")
		return
	}
	by := archive.UploadedByOrganiser
	if speaker {
		by = archive.UploadedBySpeaker
	}
	c, err := s.talks.PutCaptions(r.Context(), id, archive.CaptionTrack{Lang: lang, Cues: cues, Source: archive.CaptionUploaded,
		By: by, Check: speakerCheck(speaker)})
	if err != nil {
		s.captionError(w, err)
		return
	}
	s.log.Info("captions uploaded", "talk", id, "lang", lang, "format", format, "cues", len(cues), "by", by)
	u := s.url("/api/talks/" + id + "/captions/" + lang)
	w.Header().Set("Location", u)
	s.writeJSON(w, http.StatusCreated, captionJSON{Caption: c, URL: u})
}

// captionJSON is the answer to an upload.
type captionJSON struct {
	archive.Caption
	URL string `json:"url"`
}

func captionType(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case "text/vtt", "text/plain", "application/x-subrip", "text/srt", "application/octet-stream":
		return true
	}
	return false
}

func (s *captionHandlers) captionError(w http.ResponseWriter, err error) {
	if errors.Is(err, errSpeakerEnded) {
		s.jsonError(w, http.StatusForbidden, "the talk has ended: its captions can no longer be changed with the speaker link; ask the organiser")
		return
	}
	s.talkError(w, err)
}

// handleGet serves a talk's caption track as WebVTT (public, as the replay).
func (s *captionHandlers) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !archive.ValidTalkID(id) {
		s.jsonError(w, http.StatusNotFound, "no such talk: talk ids are 1–64 of a-z, 0-9 and -")
		return
	}
	lang, ok := s.requestLang(w, r)
	if !ok || s.hideTalk(w, r, id) {
		return
	}
	data, err := s.talks.CaptionFile(r.Context(), id, lang)
	if err != nil {
		s.talkError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/vtt; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	setCORS(h)
	w.Write(data)
}

func (s *captionHandlers) handleDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	speaker, ok := s.speakers.requireSpeaker(w, r, id)
	if !ok {
		return
	}
	lang, ok := s.requestLang(w, r)
	if !ok {
		return
	}
	if err := s.talks.DeleteCaptions(r.Context(), id, lang, speakerCheck(speaker)); err != nil {
		s.captionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// liveCueIn is the body of POST /api/stages/{stage}/captions.
type liveCueIn struct {
	Text *string `json:"text"`
	Lang *string `json:"lang"`
}

// handleLiveCue takes one live cue (POST /api/stages/{stage}/captions):
// the organiser, or the speaker of the talk live on the stage (a
// captioner or a speech-to-text tool uses that speaker link's token).
func (s *captionHandlers) handleLiveCue(w http.ResponseWriter, r *http.Request) {
	stage := r.PathValue("stage")
	if !stream.ValidStage(stage) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1–64 of a-z, 0-9 and -")
		return
	}
	if tok := bearer(r); !s.isAdmin(tok) {
		tid, known := "", false
		if tok != "" {
			tid, known = s.speakers.slides.SpeakerTalk(tok)
		}
		if !known {
			if !s.requireAdmin(w, r) { // a console session, or 401
				return
			}
		} else if live, ok := s.talks.LiveOn(stage); !ok || live.ID != tid {
			s.jsonError(w, http.StatusForbidden, "this speaker link is for a talk that is not live on this stage")
			return
		}
	}
	var in liveCueIn
	if !s.decodeBody(w, r, &in) {
		return
	}
	if in.Text == nil || in.Lang == nil {
		s.jsonError(w, http.StatusBadRequest, `send {"text": "…", "lang": "en"}: both are required`)
		return
	}
	c, err := s.live.Add(stage, *in.Lang, *in.Text)
	if err != nil {
		if errors.Is(err, captions.ErrLive) {
			s.jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.log.Error("live caption not kept", "stage", stage, "error", err)
		s.jsonError(w, http.StatusInternalServerError, "the caption was not kept: "+err.Error())
		return
	}
	s.writeJSON(w, http.StatusCreated, c)
}

// handleSubtitleFile serves the live subtitle rendition:
// /live/{stage}/captions/{lang}/index.m3u8 and …/{seq}.vtt.
func (s *captionHandlers) handleSubtitleFile(w http.ResponseWriter, r *http.Request) {
	stage, file := r.PathValue("stage"), r.PathValue("file")
	lang, err := captions.CanonicalLang(r.PathValue("lang"))
	if s.subs == nil || !stream.ValidStage(stage) || err != nil || lang != r.PathValue("lang") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	setCORS(h)
	if s.relay != nil && s.relay.relayed(r, stage) {
		// As the owner answered it (its Cache-Control and type); not a
		// playlist for the viewer count, which the video's playlist makes.
		s.relay.serveRelayed(w, r, stage, "captions/"+lang, file, kindSegment, llQuery{msn: -1, part: -1})
		return
	}
	h.Set("Cache-Control", cachePlaylist)
	if file == "index.m3u8" {
		body, status := s.subs.SubtitlePlaylist(stage, lang)
		if status != http.StatusOK {
			http.Error(w, http.StatusText(status), status)
			return
		}
		h.Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Write(body)
		return
	}
	num, ok := strings.CutSuffix(file, ".vtt")
	seq, perr := strconv.ParseUint(num, 10, 64)
	if !ok || perr != nil {
		http.NotFound(w, r)
		return
	}
	body, ok := s.subs.SubtitleSegment(stage, lang, seq)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", "text/vtt; charset=utf-8")
	w.Write(body)
}
