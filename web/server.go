// Package web is salon's HTTP side: the live playlists and segments, the live
// and home pages, the JSON API, /metrics and /healthz.
//
// web depends only on small interfaces it declares (liveSource and
// stageSource here; the others next to the handler group that calls them,
// see groups.go); cmd/salon passes the concrete hls and stream types.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
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
	"github.com/salon/salon/web/i18n"
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
	// RenditionFile and RenditionPlaylist serve
	// /live/{stage}/{rendition}/{name}; rendition "source" is the stage's
	// source.
	RenditionFile(ctx context.Context, stage, rendition, name string) (data []byte, contentType string, ok bool)
	RenditionPlaylist(ctx context.Context, stage, rendition string, msn, part int64, skip bool) (data []byte, status int)
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
	// Relay, optional (-nats), serves the live files of stages another
	// node ingests, fetched from that node (*relay.Relay). Stages then
	// lists those stages too (cmd merges the leases into it).
	Relay relaySource
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
	// Captions keeps the talks' caption tracks; optional (the caption
	// routes answer 503 without it). cmd passes the same library as Talks.
	Captions captionLibrary
	// LiveCaptions keeps the cues posted live (*captions.Live); optional
	// (POST /api/stages/{stage}/captions answers 503 without it).
	LiveCaptions liveCaptions
	// Subtitles serves the live subtitle rendition of those cues
	// (*hls.Manager); optional.
	Subtitles liveSubtitles
	// MaxUploadSize caps one slide file, in bytes. Default DefaultMaxUpload.
	MaxUploadSize int64
	// Transcode, optional, is the state of -transcode's ffmpeg children,
	// shown per stage in /api/stages/{stage} (*transcode.Transcoder).
	Transcode transcodeStates
	// MaxBundleSize caps a talk's bundle (/talks/{id}/bundle.zip): the sum
	// of its files' sizes, in bytes; a larger one is refused with 413.
	// Default DefaultMaxBundle.
	MaxBundleSize int64
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
	// nothing is counted and the stats routes answer 503. On a cluster cmd
	// passes one that adds the other nodes' numbers to this node's.
	Stats statsCounter
	// OtherViewers, optional (-nats), are the live viewers the deployment's
	// other nodes count: /api/stages and the console show the sum over the
	// nodes. /metrics stays this node's.
	OtherViewers otherViewers
	// TLS, when set, makes the port serve HTTPS (HTTP/2 and HTTP/1.1) with
	// its certificates (GetCertificate: a file reloader, autocert), and every
	// response carries Strict-Transport-Security. The connection limits
	// count TCP connections below TLS (tls_listener.go).
	TLS *tls.Config

	mux     *http.ServeMux
	handler http.Handler
	ln      net.Listener
	srv     *http.Server
	assets  *assets
	viewers *viewers
	// resp, pages and auth are shared with the handler groups (groups.go);
	// guard answers with resp and knows the organiser with auth.
	resp  *responder
	pages *renderer
	auth  *auth
	// zone is the event's time zone the pages show times in.
	zone *eventZone
	// sessions are the organiser console's logins (admin_session.go).
	sessions *sessions
	// feed pushes the console's health snapshots (admin_feed.go).
	feed *consoleFeed
	// speakerLinks are the speaker links issued since start, for their QR
	// codes in the console (admin_talk.go).
	speakerLinks *speakerLinks
	metrics      *metrics
	limits       Limits // Limits with defaults
	refused      *prometheus.CounterVec
	conns        *connLimiter
	serveErr     chan error
	closeOnce    sync.Once
	statsStop    chan struct{} // closed by Close: stops the stats sampler
	statsDone    chan struct{}
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
	if s.MaxBundleSize <= 0 {
		s.MaxBundleSize = DefaultMaxBundle
	}
	if s.DefaultLocation == nil {
		s.DefaultLocation = time.Local
	}
	s.sessions = newSessions(s.AdminToken)
	s.speakerLinks = &speakerLinks{}
	s.viewers = newViewers(viewerWindow)
	s.viewers.others = s.OtherViewers
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
	catalog, err := i18n.New()
	if err != nil {
		return fmt.Errorf("web: load the message catalogs: %w", err)
	}
	s.zone = &eventZone{fixed: s.Location, fallback: s.DefaultLocation, schedule: s.Schedule, zones: newZoneCache()}
	tmpl, err := parsePagesByLang(s.assets, catalog, s.zone)
	if err != nil {
		return fmt.Errorf("web: parse page templates: %w", err)
	}
	s.resp = &responder{log: s.Log, publicURL: s.PublicURL}
	s.pages = &renderer{log: s.Log, publicURL: s.PublicURL, tls: s.TLS != nil, assets: s.assets, pages: tmpl,
		catalog: catalog, zone: s.zone}
	s.auth = &auth{adminToken: s.AdminToken, publicURL: s.PublicURL, tls: s.TLS != nil, sessions: s.sessions,
		resp: s.resp, page: s.pages}
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
	s.feed.start()
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

// routes builds the handler groups from the configuration and registers
// their routes on a private mux. Each group holds only what it uses: the
// optional dependencies it gets may be nil, and the group's routes that need
// one answer 503 without it.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	rt := &router{mux: s.mux, resp: s.resp}
	resp, page, adm := s.resp, s.pages, s.auth
	zone := s.zone
	aud := &audience{viewers: s.viewers, sharedNets: s.SharedNets, perAddr: s.limits.ViewerIDsPerAddr, seed: maphash.MakeSeed()}
	hidden := &hiddenTalks{talks: s.Talks, auth: adm, resp: resp}
	hubs := &chatHubs{rooms: s.Chat, resp: resp}
	history := &chatHistory{archive: s.Archive, rooms: s.Chat}
	s.feed = &consoleFeed{stages: s.Stages, lib: s.Talks, recorder: s.Recorder, programme: s.Programme, transcode: s.Transcode,
		zone: zone, viewers: s.viewers, resp: resp, log: s.Log}

	stages := &stageHandlers{stages: s.Stages, viewers: s.viewers, transcode: s.Transcode,
		english: page.catalog.Localizer("en"), responder: resp}
	sponsors := &sponsorHandlers{sponsors: s.Sponsors, log: s.Log, responder: resp, renderer: page, auth: adm, eventZone: zone}
	rooms := &roomHandlers{talks: s.Talks, sponsors: sponsors, responder: resp, renderer: page, eventZone: zone}
	slides := &slideHandlers{slides: s.Slides, talks: s.Talks, maxUpload: s.MaxUploadSize, speakerLinks: s.speakerLinks, log: s.Log,
		chatHubs: hubs, responder: resp, renderer: page, auth: adm}
	live := &liveHandlers{live: s.Live, stages: s.Stages, relay: s.Relay, metrics: s.metrics, responder: resp, audience: aud}
	groups := []interface{ register(*router) }{
		&siteHandlers{health: s.Health, assets: s.assets, responder: resp, renderer: page},
		live,
		stages,
		&pageHandlers{talks: s.Talks, stages: stages, rooms: rooms, responder: resp, renderer: page, auth: adm, hiddenTalks: hidden},
		&talkHandlers{talks: s.Talks, responder: resp, auth: adm, hiddenTalks: hidden},
		&programmeHandlers{programme: s.Programme, responder: resp, auth: adm},
		&archiveHandlers{archive: s.Archive, talks: s.Talks, stats: s.Stats, log: s.Log,
			responder: resp, hiddenTalks: hidden, audience: aud},
		&chatHandlers{origins: s.ChatOrigins, publicURL: s.PublicURL, log: s.Log, slides: s.Slides, talks: s.Talks,
			chatHubs: hubs, responder: resp, auth: adm},
		&replayHandlers{archive: s.Archive, talks: s.Talks, stats: s.Stats, maxBundle: s.MaxBundleSize, log: s.Log,
			chatHistory: history, responder: resp, hiddenTalks: hidden, audience: aud},
		&talkChatHandlers{talks: s.Talks, log: s.Log, chatHistory: history, responder: resp, auth: adm, hiddenTalks: hidden},
		slides,
		&captionHandlers{talks: s.Captions, live: s.LiveCaptions, subs: s.Subtitles, relay: live, speakers: slides, log: s.Log,
			responder: resp, auth: adm, hiddenTalks: hidden},
		&scheduleHandlers{schedule: s.Schedule, talks: s.Talks, feed: s.feed, log: s.Log,
			responder: resp, renderer: page, auth: adm, eventZone: zone},
		&statsHandlers{stats: s.Stats, talks: s.Talks, log: s.Log, chatHistory: history,
			responder: resp, renderer: page, auth: adm, eventZone: zone},
		sponsors,
		rooms,
		&consoleHandlers{talks: s.Talks, feed: s.feed, log: s.Log, responder: resp, renderer: page, auth: adm, eventZone: zone},
		&adminTalkHandlers{talks: s.Talks, slides: s.Slides, archive: s.Archive, speakerLinks: s.speakerLinks, log: s.Log,
			responder: resp, renderer: page, auth: adm, eventZone: zone},
	}
	for _, g := range groups {
		g.register(rt)
	}
	s.mux.Handle("GET /metrics", s.metrics.handler)

	s.handler = s.guard(s.instrument(s.mux))
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
// playlist within the last viewerWindow, on this node.
func (s *Server) Viewers(stage string) int {
	return s.viewers.count(stage, time.Now())
}

// LocalViewers is Viewers for every stage this node has viewers of (what
// it tells the other nodes of a deployment).
func (s *Server) LocalViewers() map[string]int {
	out := s.viewers.counts(time.Now())
	for stage, n := range out {
		if n == 0 {
			delete(out, stage)
		}
	}
	return out
}

// url makes an absolute URL from a path when PublicURL is set.
func (s *responder) url(path string) string { return s.publicURL + path }
