package web

import (
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// consoleHandlers serve the organiser console: its day page, login and
// logout (admin_session.go), its event stream (admin_feed.go) and a stage's
// chat page (admin_chat.go). Every console page and action goes through
// requireAdmin or requireSessionPage.
type consoleHandlers struct {
	talks talkLister // optional
	feed  *consoleFeed
	log   *slog.Logger
	*responder
	*renderer
	*auth
	*eventZone
}

func (s *consoleHandlers) register(rt *router) {
	rt.handle("GET /admin", s.handleAdmin)
	rt.handle("GET /admin/{$}", s.handleAdmin)
	rt.handle("GET /admin/login", s.handleLoginPage)
	rt.handle("POST /admin/login", s.handleLogin)
	rt.handle("POST /admin/logout", s.handleLogout)
	rt.mux.HandleFunc("GET /admin/events", s.handleEvents)
	rt.handle("GET /admin/stages/{stage}/chat", s.handleAdminChat)
}

// adminData is what the console pages get besides pageData.
type adminData struct {
	// Console marks a console page (its stylesheet and navigation).
	Console bool
	// CSRF is the session's token, put in a <meta> for api.js; empty for a
	// page fetched with the bearer token (such a client sends the token on
	// its own requests).
	CSRF string
	// Zone is the event's IANA time zone name ("" when the machine's zone
	// has no name: the browser's own is used then).
	Zone string
	// Initial is the talks and health the page starts with, as JSON in a
	// data block (never executed: the CSP allows no inline script).
	Initial template.JS
}

// zoneName is the event's IANA time zone for the browser, or "".
func (s *eventZone) zoneName() string {
	if n := s.location().String(); n != "Local" {
		return n
	}
	return ""
}

// scheduleZone is what an import service knows of the schedule's zone;
// *programme.ImportService has it.
type scheduleZone interface {
	ScheduleZone() string
}

// location is the event's time zone: -timezone, else the zone the imported
// schedule names (time_zone_name), else the machine's.
func (s *eventZone) location() *time.Location {
	if s.fixed != nil {
		return s.fixed
	}
	if z, ok := s.schedule.(scheduleZone); ok {
		if loc := s.zones.load(z.ScheduleZone()); loc != nil {
			return loc
		}
	}
	return s.fallback
}

// zoneCache keeps the locations loaded by name (time.LoadLocation reads
// the zone database each time). mu guards byName.
type zoneCache struct {
	mu     sync.Mutex
	byName map[string]*time.Location
}

func newZoneCache() *zoneCache { return &zoneCache{byName: map[string]*time.Location{}} }

// load is the zone named name, nil for "" or a name that does not load.
func (c *zoneCache) load(name string) *time.Location {
	if name == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if loc, ok := c.byName[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil || len(c.byName) > 16 {
		loc = nil // the schedule importer checked it; a bad name falls back
	}
	c.byName[name] = loc
	return loc
}

// handleAdmin is the day view: every stage's timeline, the talk on stage,
// the buttons, the health. Without a session it is the login form.
func (s *consoleHandlers) handleAdmin(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSessionPage(w, r)
	if !ok {
		return
	}
	init := struct {
		Talks  []talkJSON      `json:"talks"`
		Health consoleSnapshot `json:"health"`
	}{Talks: []talkJSON{}}
	if s.talks != nil {
		init.Talks = s.feed.consoleTalks()
	}
	init.Health = s.feed.snapshotNow()
	b, err := json.Marshal(init)
	if err != nil {
		s.log.Error("encode the console's first state", "error", err)
		b = []byte(`{}`)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "admin.html", pageData{
		Title: s.tr(r).T("console.title"),
		Admin: adminData{Console: true, CSRF: sess.csrf, Zone: s.zoneName(), Initial: template.JS(b)},
	})
}

// handleLoginPage shows the login form, or goes to the console when the
// session is still good.
func (s *consoleHandlers) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.adminSession(r); ok {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderLogin(w, r, http.StatusOK, "")
}

// snapshotNow is the latest health as the feed last built it, for the
// page's first paint (the feed's goroutine owns the history).
func (f *consoleFeed) snapshotNow() consoleSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}
