// Package web is salon's HTTP side: the live playlists and segments, the live
// and home pages, the JSON API, /metrics and /healthz.
//
// web depends only on small interfaces it declares here (liveSource,
// stageSource); cmd/salon passes the concrete hls and stream types.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

// liveSource serves a stage's live HLS files. name is "init-N.mp4", "N.m4s"
// or a part "N.M.m4s"; File may block on a part the playlist hints at until
// it exists, and must return when ctx ends. Playlist answers index.m3u8 with
// the low-latency delivery directives (msn and part -1 when absent, skip for
// _HLS_skip): it may block until the asked segment or part exists or the
// first segment of a starting publish does, and returns the HTTP status the
// HLS spec gives (200, 400 too far ahead, 404, 503 not in time).
type liveSource interface {
	File(ctx context.Context, stage, name string) (data []byte, contentType string, ok bool)
	Playlist(ctx context.Context, stage string, msn, part int64, skip bool) (data []byte, status int)
}

// healthSource names what threatens the recordings now (*archive.Recorder):
// /healthz reports "degraded" with them.
type healthSource interface {
	Problems() []string
}

// stageSource describes the stages; *stream.Registry satisfies it.
type stageSource interface {
	Stages() []stream.StageInfo
	Known(stage string) bool
	Live(stage string) bool
}

const (
	// fileWait bounds how long a request waits for liveSource.File, which
	// blocks on the first playlist of a publish that is just starting.
	fileWait = 10 * time.Second
	// shutdownWait bounds how long Close lets requests in flight finish.
	shutdownWait = 5 * time.Second
	// tlsHandshakeTimeout bounds a TLS handshake, as ReadHeaderTimeout
	// bounds a request head.
	tlsHandshakeTimeout = 10 * time.Second
	// hstsMaxAge is Strict-Transport-Security's max-age on HTTPS: a year,
	// without includeSubDomains (a community's other hosts may not have
	// HTTPS) or preload (a decision for the domain's owner).
	hstsMaxAge = "max-age=31536000"
	// defaultBodyLimit caps request bodies on routes that read none.
	defaultBodyLimit = 64 << 10
)

// Server is salon's HTTP server.
//
// Its mutable state (the viewer table) is guarded by the viewers type's own
// mutex; everything else is set in Initialize and read-only afterwards.
type Server struct {
	// Address to listen on, e.g. ":8080" or "127.0.0.1:0". Default ":8080".
	Address string
	// Live serves playlists and segments. Required.
	Live liveSource
	// Stages describes the stages. Required.
	Stages stageSource
	// Gatherer is exposed on /metrics. Default: Metrics when it is a
	// Gatherer, else a private registry.
	Gatherer prometheus.Gatherer
	// Metrics receives web's own metrics. Default: a private registry.
	Metrics prometheus.Registerer
	// PublicURL is the base URL shown in pages and API URLs, e.g.
	// "https://live.example.org". Optional: relative URLs are used without it.
	PublicURL string
	// Log receives web's log events. Default: discard.
	Log *slog.Logger
	// Talks is the replay library; optional (the talk routes answer 503
	// without it).
	Talks talkLibrary
	// Archive is the bucket, served read-only at /archive/{key}; optional.
	Archive archiveReader
	// AdminToken authorises the organiser: API calls with it as a Bearer
	// token, or a console session started by giving it on /admin/login.
	AdminToken string
	// Location is the event's time zone (-timezone): pages show times in
	// it. When nil: the zone the imported schedule names, else
	// DefaultLocation.
	Location *time.Location
	// DefaultLocation is the machine's zone, under its IANA name when cmd
	// found one. Default: time.Local.
	DefaultLocation *time.Location
	// Recorder, when set, reports the spool and the uploads on the console.
	Recorder recorderHealth
	// Chat are the stages' chat rooms (web/chat.Rooms, shared with the
	// programme); optional (the chat routes answer 503 without them).
	Chat chatRooms
	// ChatOrigins are the page origins ("https://example.org") allowed to
	// open the chat websocket besides this server's own host and PublicURL,
	// e.g. a community site that embeds the player. "*" allows any. web
	// checks them before it hands a websocket to Chat.
	ChatOrigins []string
	// Programme runs the day: starts, stops, Next, auto mode. Optional
	// (those routes answer 503 without it).
	Programme programmeService
	// Slides takes slide uploads and speaker links; optional (the slide
	// routes answer 503 without it). cmd passes the same library as Talks.
	Slides slideLibrary
	// Sponsors keeps the sponsors' logos for the room screen and the live
	// page; optional (the sponsor routes answer 503 without it).
	Sponsors sponsorLibrary
	// MaxUploadSize caps one slide file, in bytes. Default DefaultMaxUpload.
	MaxUploadSize int64
	// Health, optional, makes /healthz report problems as "degraded".
	Health healthSource
	// Schedule imports and exports the day's schedule; optional (the
	// schedule routes answer 503 without it).
	Schedule scheduleService
	// Limits bound connections and request bodies (limits.go); zero fields
	// take defaults. SharedNets are exempt from the per-address limits.
	Limits Limits
	// SharedNets are addresses many viewers share (a venue's NAT when salon
	// is hosted elsewhere, -chat-shared-nets): the per-address limits and
	// the viewer count treat them per connection.
	SharedNets []netip.Prefix
	// Stats counts how the day went (*stats.Counter); optional: without it
	// nothing is counted and the stats routes answer 503.
	Stats statsCounter
	// TLS, when set, makes the port serve HTTPS (HTTP/2 and HTTP/1.1) with
	// its certificates (GetCertificate: a file reloader, autocert), and every
	// response carries Strict-Transport-Security. The connection limits
	// count TCP connections below TLS (tls_listener.go).
	TLS *tls.Config

	mux     *http.ServeMux
	handler http.Handler
	ln      net.Listener
	srv     *http.Server
	pages   *template.Template
	assets  *assets
	viewers *viewers
	// sessions are the organiser console's logins (admin_session.go).
	sessions *sessions
	// feed pushes the console's health snapshots (admin_feed.go).
	feed *consoleFeed
	// zones caches the schedule's time zone (admin_pages.go).
	zones *zoneCache
	// speakerLinks are the speaker links issued since start, for their QR
	// codes in the console (admin_talk.go).
	speakerLinks speakerLinks
	// chatReplays caches each talk's chat replay (talk_chat.go).
	chatReplays replayCache
	// chatCounts caches each talk's chat numbers for the stats (stats_api.go).
	chatCounts chatCountCache
	metrics    *metrics
	limits     Limits // Limits with defaults
	refused    *prometheus.CounterVec
	conns      *connLimiter
	seed       maphash.Seed
	serveErr   chan error
	closeOnce  sync.Once
	statsStop  chan struct{} // closed by Close: stops the stats sampler
	statsDone  chan struct{}
}

// Initialize validates the configuration, builds the routes and starts
// listening. Call Close to stop.
func (s *Server) Initialize() error {
	if s.Live == nil || s.Stages == nil {
		return errors.New("web: Live and Stages are required (wire the hls package and the stream registry)")
	}
	if s.Address == "" {
		s.Address = ":8080"
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	if s.MaxUploadSize <= 0 {
		s.MaxUploadSize = DefaultMaxUpload
	}
	if s.DefaultLocation == nil {
		s.DefaultLocation = time.Local
	}
	s.zones = newZoneCache()
	s.seed = maphash.MakeSeed()
	s.sessions = newSessions()
	s.viewers = newViewers(viewerWindow)
	if err := s.initMetrics(); err != nil {
		return err
	}
	if err := s.initLimits(); err != nil {
		return fmt.Errorf("web: register limit metrics: %w", err)
	}

	var err error
	if s.assets, err = newAssets(); err != nil {
		return fmt.Errorf("web: load embedded assets: %w", err)
	}
	if !s.assets.hasHLS {
		s.Log.Warn("hls.js is not vendored: the live page cannot play; run go generate ./web and rebuild")
	}
	if s.pages, err = parsePages(s.assets); err != nil {
		return fmt.Errorf("web: parse page templates: %w", err)
	}
	s.routes()

	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w (is another program using the port? choose another with -http)", s.Address, err)
	}
	s.conns = newConnLimiter(ln, s.limits, s.SharedNets, s.Log, s.refused)
	s.ln = s.conns
	if s.TLS != nil {
		s.conns.tls = true
		s.ln = newTLSListener(s.conns, serverTLS(s.TLS), tlsHandshakeTimeout, s.Log)
	}
	s.feed = newConsoleFeed(s)
	s.srv = &http.Server{
		Handler:           s.handler,
		ConnContext:       connContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug),
	}
	s.serveErr = make(chan error, 1)
	go func() {
		err := s.srv.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
	}()
	if s.Stats != nil {
		s.statsStop, s.statsDone = make(chan struct{}), make(chan struct{})
		go s.runStatsSampler(s.statsStop, s.statsDone)
	}
	s.Log.Info("http listening", "addr", ln.Addr().String(), "tls", s.TLS != nil)
	return nil
}

// routes registers every handler on a private mux. Later issues add theirs
// here (talks, chat, archive).
func (s *Server) routes() {
	s.mux = http.NewServeMux()

	s.handle("GET /{$}", s.handleHome)
	s.handle("GET /live/{stage}", s.handleLivePage)
	s.handle("GET /live/{stage}/questions", s.handleQuestionsPage)
	s.handle("GET /live/{stage}/index.m3u8", s.handlePlaylist)
	s.handle("GET /live/{stage}/{file}", s.handleSegment)
	s.handle("OPTIONS /live/{stage}/{file}", s.handlePreflight)

	s.handle("GET /api/stages", s.handleStages)
	s.handle("GET /api/stages/{stage}", s.handleStage)

	s.handle("GET /api/talks", s.needTalks(s.handleTalks))
	s.handle("GET /api/talks/{id}", s.needTalks(s.handleTalk))
	s.handle("POST /api/talks", s.needTalks(s.handleTalkCreate))
	s.handle("PATCH /api/talks/{id}", s.needTalks(s.handleTalkPatch))
	s.handle("DELETE /api/talks/{id}", s.needTalks(s.handleTalkDelete))
	s.handle("POST /api/talks/{id}/start", s.needProgramme(s.handleTalkStart))
	s.handle("POST /api/talks/{id}/stop", s.needProgramme(s.handleTalkStop))
	s.handle("GET /api/programme", s.needProgramme(s.handleProgramme))
	s.handle("PUT /api/stages/{stage}/auto", s.needProgramme(s.handleStageAuto))
	s.handle("POST /api/stages/{stage}/next", s.needProgramme(s.handleStageNext))
	s.handle("GET /archive/{key...}", s.needArchive(s.handleArchive))
	s.handle("GET /talks/{id}", s.handleTalkPage)
	s.mux.HandleFunc("GET /ws/chat/{stage}", s.handleChat)
	s.handle("DELETE /api/stages/{stage}/chat/messages/{id}", s.handleChatDelete)
	s.handle("POST /api/stages/{stage}/chat/messages/{id}/ban", s.handleChatBan)
	s.handle("POST /api/stages/{stage}/chat/messages/{id}/answered", s.handleChatAnswered)
	s.handle("PUT /api/stages/{stage}/chat/slow-mode", s.handleChatSlowMode)
	s.handle("GET /api/talks/{id}/chat", s.needTalks(s.handleTalkChatExport))
	s.handle("GET /talks/{id}/chat.json", s.needTalks(s.handleTalkChatReplay))
	s.handle("GET /talks/{id}/download.mp4", s.handleTalkDownload)
	s.handle("POST /api/talks/{id}/speaker-link", s.needSlides(s.handleSpeakerLink))
	s.handle("DELETE /api/talks/{id}/speaker-link", s.needSlides(s.handleSpeakerLinkRevoke))
	s.handleBody("POST /api/talks/{id}/slides", s.MaxUploadSize+multipartSlack, s.needSlides(s.handleSlideUpload))
	s.handle("DELETE /api/talks/{id}/slides/{name}", s.needSlides(s.handleSlideDelete))
	s.handle("POST /api/talks/{id}/slide", s.needSlides(s.handleSlideChange))
	s.handle("GET /speak/{id}", s.handleSpeakPage)
	s.scheduleRoutes()
	s.statsRoutes()

	s.adminRoutes()
	s.extraRoutes()

	s.handle("GET /static/{path...}", s.handleStatic)
	s.handle("GET /healthz", s.handleHealth)
	s.mux.Handle("GET /metrics", s.metrics.handler)
	s.handle("/", s.handleNotFound)

	s.handler = s.guard(s.instrument(s.mux))
}

// needTalks answers 503 when no replay library is configured.
func (s *Server) needTalks(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Talks == nil {
			s.jsonError(w, http.StatusServiceUnavailable, "the replay library is not configured")
			return
		}
		h(w, r)
	}
}

// needArchive answers 503 when no archive is configured.
func (s *Server) needArchive(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Archive == nil {
			s.jsonError(w, http.StatusServiceUnavailable, "the archive is not configured")
			return
		}
		h(w, r)
	}
}

// handle registers h with the default body limit.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.handleBody(pattern, defaultBodyLimit, h)
}

// handleBody registers h, capping its request body at limit bytes.
func (s *Server) handleBody(pattern string, limit int64, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h(w, r)
	})
}

// serverTLS is c with the protocols the port speaks offered in ALPN (after
// any c has, such as autocert's acme-tls/1) and TLS 1.2 at least.
func serverTLS(c *tls.Config) *tls.Config {
	c = c.Clone()
	for _, p := range []string{"h2", "http/1.1"} {
		if !slices.Contains(c.NextProtos, p) {
			c.NextProtos = append(c.NextProtos, p)
		}
	}
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	return c
}

// Addr is the address the server listens on, with the port it bound.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Handler is the server's full handler, with metrics and common headers.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops accepting, lets requests in flight finish for a few seconds,
// then closes what remains. It is safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.feed != nil {
			s.feed.close() // ends the console's event streams
		}
		if s.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.Log.Warn("http shutdown timed out, closing remaining connections", "error", err)
			s.srv.Close()
		}
		if err := <-s.serveErr; err != nil {
			s.Log.Error("http server stopped", "error", err)
		}
		if s.statsStop != nil {
			close(s.statsStop)
			<-s.statsDone
		}
	})
}

// Viewers is the number of distinct clients that fetched the stage's
// playlist within the last viewerWindow.
func (s *Server) Viewers(stage string) int {
	return s.viewers.count(stage, time.Now())
}

// url makes an absolute URL from a path when PublicURL is set.
func (s *Server) url(path string) string { return s.PublicURL + path }
