package web

import (
	"hash/maphash"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/salon/salon/web/i18n"
)

// web's handlers live in small per-area groups (liveHandlers, talkHandlers,
// chatHandlers, …): each is a struct that holds only what its handlers use,
// built by Server.routes from the Server's configuration, and registers its
// own routes. The values below are what several groups share; a group holds
// the ones it uses by pointer (embedded, so a handler calls s.jsonError or
// s.requireAdmin), never the Server. Every field is set before the first
// request and read-only afterwards; the types with state (sessions, viewers,
// caches) guard it themselves.

// router registers a group's handlers on the Server's mux. A websocket or
// an event stream, which reads no body and must reach the connection
// unwrapped, registers on mux directly. cmd/salon's route table test finds
// every pattern by scanning for handle, handleBody and HandleFunc calls with a
// literal pattern: keep patterns literal.
type router struct {
	mux  *http.ServeMux
	resp *responder
}

// handle registers h with the default body limit.
func (rt *router) handle(pattern string, h http.HandlerFunc) {
	rt.handleBody(pattern, defaultBodyLimit, h)
}

// handleBody registers h, capping its request body at limit bytes.
func (rt *router) handleBody(pattern string, limit int64, h http.HandlerFunc) {
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h(w, r)
	})
}

// need is h when ok (its optional dependency is configured), else a
// handler that answers 503 with msg.
func (rt *router) need(ok bool, msg string, h http.HandlerFunc) http.HandlerFunc {
	if ok {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		rt.resp.jsonError(w, http.StatusServiceUnavailable, msg)
	}
}

// What the routes of a missing optional dependency answer (503).
const (
	noTalks     = "the replay library is not configured" // also without slides
	noArchive   = "the archive is not configured"
	noProgramme = "the programme is not configured" // also without the schedule importer
	noSponsors  = "sponsors are not configured (salon needs an archive)"
)

// responder writes API answers (api.go, talks_api.go) and makes URLs under
// PublicURL (server.go, slides_api.go).
type responder struct {
	log       *slog.Logger
	publicURL string // without a trailing slash; "" for relative URLs
}

// renderer renders the HTML pages (pages.go).
type renderer struct {
	log       *slog.Logger
	publicURL string
	tls       bool // the port serves HTTPS (the language cookie gets Secure)
	assets    *assets
	pages     map[string]*template.Template // by language (i18n_pages.go)
	catalog   *i18n.Catalog
	zone      *eventZone // pages show times in it
}

// auth tells the organiser and the console's sessions apart from everyone
// else: the admin bearer token, the session cookie, the CSRF token
// (admin_session.go, slides_api.go, talks_hidden.go).
type auth struct {
	adminToken string
	publicURL  string
	tls        bool // the port serves HTTPS
	sessions   *sessions
	resp       *responder
	page       *renderer // the login page
}

// eventZone is the time zone pages show times in (admin_pages.go).
type eventZone struct {
	fixed    *time.Location  // -timezone; nil: the schedule's, else fallback
	fallback *time.Location  // the machine's zone
	schedule scheduleService // may name a zone (scheduleZone); may be nil
	zones    *zoneCache
}

// audience counts viewers and tells clients apart for the statistics
// (limits.go, stats_hooks.go).
type audience struct {
	viewers    *viewers
	sharedNets []netip.Prefix
	perAddr    int // Limits.ViewerIDsPerAddr
	seed       maphash.Seed
}
