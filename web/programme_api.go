package web

import (
	"context"
	"net/http"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/programme"
)

// programmeService is the day as the API drives it; *programme.Programme
// satisfies it. Errors wrap archive.ErrNotFound, ErrInvalid or ErrConflict.
type programmeService interface {
	Start(ctx context.Context, id string) (archive.Talk, error)
	Stop(ctx context.Context, id string) (archive.Talk, error)
	Next(ctx context.Context, stage string) (programme.Change, error)
	SetAuto(stage string, on bool) error
	Day() []programme.StageDay
}

// programmeHandlers drive the day: start and stop a talk, Next, auto mode,
// and the day's state.
type programmeHandlers struct {
	programme programmeService
	*responder
	*auth
}

func (s *programmeHandlers) register(rt *router) {
	ok := s.programme != nil
	rt.handle("POST /api/talks/{id}/start", rt.need(ok, noProgramme, s.handleTalkStart))
	rt.handle("POST /api/talks/{id}/stop", rt.need(ok, noProgramme, s.handleTalkStop))
	rt.handle("GET /api/programme", rt.need(ok, noProgramme, s.handleProgramme))
	rt.handle("PUT /api/stages/{stage}/auto", rt.need(ok, noProgramme, s.handleStageAuto))
	rt.handle("POST /api/stages/{stage}/next", rt.need(ok, noProgramme, s.handleStageNext))
}

// stageDayJSON is one stage of GET /api/programme.
type stageDayJSON struct {
	Stage string     `json:"stage"`
	Auto  bool       `json:"auto"`
	Live  *talkJSON  `json:"live"`
	Next  *talkJSON  `json:"next"`
	Talks []talkJSON `json:"talks"`
}

// handleProgramme is the day (GET /api/programme, public): per stage its
// talks in programme order, the live one, the one Next would start, and
// whether the schedule starts and stops them (auto).
func (s *programmeHandlers) handleProgramme(w http.ResponseWriter, r *http.Request) {
	days := s.programme.Day()
	out := make([]stageDayJSON, 0, len(days))
	for _, d := range days {
		sd := stageDayJSON{Stage: d.Stage, Auto: d.Auto, Talks: make([]talkJSON, 0, len(d.Talks))}
		for _, t := range d.Talks {
			sd.Talks = append(sd.Talks, s.talkJSON(t))
		}
		if d.Live != nil {
			v := s.talkJSON(*d.Live)
			sd.Live = &v
		}
		if d.Next != nil {
			v := s.talkJSON(*d.Next)
			sd.Next = &v
		}
		out = append(out, sd)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"stages": out})
}

// programmeStage validates the request's stage name (404 when malformed).
func (s *programmeHandlers) programmeStage(w http.ResponseWriter, r *http.Request) (string, bool) {
	stage := r.PathValue("stage")
	if !stream.ValidStage(stage) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1-64 of a-z, 0-9 and -")
		return "", false
	}
	return stage, true
}

// handleStageAuto switches a stage's auto mode
// (PUT /api/stages/{stage}/auto {"on":bool}, admin).
func (s *programmeHandlers) handleStageAuto(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	stage, ok := s.programmeStage(w, r)
	if !ok {
		return
	}
	var in struct {
		On *bool `json:"on"`
	}
	if !s.decodeBody(w, r, &in) {
		return
	}
	if in.On == nil {
		s.jsonError(w, http.StatusBadRequest, `send {"on": true} or {"on": false}`)
		return
	}
	if err := s.programme.SetAuto(stage, *in.On); err != nil {
		s.talkError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"stage": stage, "auto": *in.On})
}

// handleStageNext stops the stage's live talk and starts its next one in one
// step (POST /api/stages/{stage}/next, admin): {"stopped": talk|null,
// "started": talk}; 409 when there is no next talk.
func (s *programmeHandlers) handleStageNext(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	stage, ok := s.programmeStage(w, r)
	if !ok {
		return
	}
	ch, err := s.programme.Next(r.Context(), stage)
	if err != nil {
		s.talkError(w, err)
		return
	}
	var stopped *talkJSON
	if ch.Stopped != nil {
		v := s.talkJSON(*ch.Stopped)
		stopped = &v
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"stopped": stopped, "started": s.talkJSON(ch.Started)})
}
