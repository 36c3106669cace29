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
	"github.com/salon/salon/programme"
	"github.com/salon/salon/schedule"
)

// scheduleService is the programme's schedule as the schedule routes need
// it; *programme.ImportService satisfies it.
type scheduleService interface {
	// Import plans (dryRun) or applies the import of s; rooms override the
	// saved room → stage mapping. A bad mapping wraps archive.ErrInvalid.
	Import(ctx context.Context, s *schedule.Schedule, rooms map[string]string, dryRun bool) (programme.ImportReport, error)
	// Export is the day as a schedule, its links made with url.
	Export(url func(path string) string) *schedule.Schedule
}

var _ scheduleService = (*programme.ImportService)(nil)

// scheduleImportWait bounds an import's writes: a 1,000-talk first import
// into a slow bucket takes seconds, not minutes.
const scheduleImportWait = 2 * time.Minute

// scheduleHandlers serve the schedule's routes:
//
//	PUT /api/schedule            admin: the body is a schedule.json or schedule.xml;
//	                             ?room=NAME=stage (repeatable) maps a room,
//	                             ?dry_run=1 answers what an import would do
//	GET /schedule.json           public: the day in the C3VOC schema, with replay links
//	GET /schedule.ics            public: the day for calendars
//	GET /admin/schedule          console: the import page (admin_schedule.go)
type scheduleHandlers struct {
	schedule scheduleService // optional: the routes answer 503 without it
	talks    talkLister      // optional: their stages, for the import page
	feed     *consoleFeed    // the stages seen, for the import page
	log      *slog.Logger
	*responder
	*renderer
	*auth
	*eventZone
}

func (s *scheduleHandlers) register(rt *router) {
	ok := s.schedule != nil
	// One byte over the limit is read, so that a file of exactly
	// schedule.MaxSize passes and a larger one is a 413.
	rt.handleBody("PUT /api/schedule", schedule.MaxSize+1, rt.need(ok, noProgramme, s.handleScheduleImport))
	rt.handle("GET /schedule.json", rt.need(ok, noProgramme, s.handleScheduleJSON))
	rt.handle("GET /schedule.ics", rt.need(ok, noProgramme, s.handleScheduleICS))
	rt.handle("GET /admin/schedule", s.handleAdminSchedule)
}

func (s *scheduleHandlers) handleScheduleImport(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.jsonError(w, http.StatusUnsupportedMediaType, "send the schedule.json or schedule.xml file itself as the request body (curl -T schedule.json)")
		return
	}
	rooms, err := scheduleRoomsParam(r.URL.Query()["room"])
	if err != nil {
		s.jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	dryRun, _ := strconv.ParseBool(r.URL.Query().Get("dry_run"))
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the schedule is over %d MB; nothing was imported", schedule.MaxSize>>20))
			return
		}
		s.jsonError(w, http.StatusBadRequest, "reading the schedule failed: "+err.Error())
		return
	}
	sched, err := schedule.Parse(data)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, schedule.ErrTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		s.jsonError(w, status, err.Error()+"; nothing was imported")
		return
	}
	// The import must not stop half-way because the organiser's browser
	// went away: it runs on its own context, bounded in time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), scheduleImportWait)
	defer cancel()
	report, err := s.schedule.Import(ctx, sched, rooms, dryRun)
	if err != nil {
		if errors.Is(err, archive.ErrInvalid) && len(report.Created)+len(report.Updated) == 0 {
			s.jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.log.Error("schedule import failed part-way", "created", len(report.Created), "updated", len(report.Updated), "error", err)
		s.jsonError(w, http.StatusInternalServerError, fmt.Sprintf("%v; %d talks were created and %d updated before it stopped: import the same file again to finish", err, len(report.Created), len(report.Updated)))
		return
	}
	s.writeJSON(w, http.StatusOK, report)
}

// scheduleRoomsParam reads ?room=NAME=stage values (split at the last
// "=", since a stage has none and a room name may).
func scheduleRoomsParam(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	rooms := make(map[string]string, len(vals))
	for _, v := range vals {
		i := strings.LastIndexByte(v, '=')
		if i <= 0 {
			return nil, fmt.Errorf("room %q: want room=NAME=stage, e.g. room=主会场=main", v)
		}
		rooms[v[:i]] = v[i+1:]
	}
	if err := programme.ImportCheckRooms(rooms); err != nil {
		return nil, err
	}
	return rooms, nil
}

func (s *scheduleHandlers) handleScheduleJSON(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	if err := schedule.WriteJSON(&b, s.schedule.Export(func(p string) string { return s.absURL(r, p) })); err != nil {
		s.log.Error("write schedule.json", "error", err)
		s.jsonError(w, http.StatusInternalServerError, "the schedule could not be written")
		return
	}
	s.serveSchedule(w, r, "application/json; charset=utf-8", "schedule.json", b.String())
}

func (s *scheduleHandlers) handleScheduleICS(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	// DTSTAMP is the minute the file is made: the same bytes for a minute.
	if err := schedule.WriteICS(&b, s.schedule.Export(func(p string) string { return s.absURL(r, p) }), time.Now().UTC().Truncate(time.Minute)); err != nil {
		s.log.Error("write schedule.ics", "error", err)
		s.jsonError(w, http.StatusInternalServerError, "the calendar could not be written")
		return
	}
	s.serveSchedule(w, r, "text/calendar; charset=utf-8", "schedule.ics", b.String())
}

// serveSchedule serves a public, cross-origin schedule file that changes
// with the programme: short caching, Range and HEAD from ServeContent.
func (s *scheduleHandlers) serveSchedule(w http.ResponseWriter, r *http.Request, contentType, name, body string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Disposition", `inline; filename="`+name+`"`)
	http.ServeContent(w, r, name, time.Time{}, strings.NewReader(body))
}
