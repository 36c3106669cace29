package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

// RTSPServer accepts RTSP publishers (ANNOUNCE + RECORD, TCP transport) at
// rtsp://HOST:PORT/live/{stage}?key=KEY, or with the key as the RTSP
// password and any user name. It does not serve readers.
//
// gortsplib owns the connections and sessions; each session's publish lives
// in the session's user data. The listener under gortsplib is a
// guardedListener (accept errors are retried, never fatal; connection
// limits), and a goroutine watches the gortsplib server and starts a new one
// if it ever stops by itself. mu guards srv and addr.
type RTSPServer struct {
	// Address to listen on, e.g. ":8554" or "127.0.0.1:0".
	Address string
	// TLS, when set, makes this an RTSPS port (gortsplib's TLSConfig):
	// RTP/AVP or RTP/SAVP interleaved in the TLS connection.
	TLS *tls.Config
	// Key is the publish key; required.
	Key string
	// Registry receives the publishes.
	Registry publishRegistry
	// ReadTimeout drops a publisher whose connection sends nothing at all
	// for this long (default 10 s); Limits.MediaTimeout drops one that keeps
	// its connection alive but sends no media.
	ReadTimeout time.Duration
	// Limits bound connections that do not publish, wrong keys and stalled
	// publishers; zero fields take their defaults.
	Limits Limits
	// Metrics, when set, receives salon_ingest_refused_total and
	// salon_ingest_accept_errors_total for this protocol.
	Metrics prometheus.Registerer
	Log     *slog.Logger

	keys     *keyGuard
	counters *ingestCounters
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu   sync.Mutex
	srv  *gortsplib.Server
	ln   *guardedListener // the current server's listener
	addr string
}

// Initialize validates the configuration and starts listening.
func (s *RTSPServer) Initialize() error {
	if s.Address == "" {
		return errors.New("rtsp: no listen address: set one, e.g. :8554")
	}
	if s.Key == "" {
		return errors.New("rtsp: the publish key is empty: set a publish key")
	}
	if s.Registry == nil {
		return errors.New("rtsp: no registry")
	}
	if err := s.Limits.Validate(); err != nil {
		return fmt.Errorf("rtsp: %w", err)
	}
	s.Limits = s.Limits.withDefaults()
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = 10 * time.Second
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	proto := "rtsp"
	if s.TLS != nil {
		proto = "rtsps"
	}
	s.Log = s.Log.With("component", proto)
	counters, err := newIngestCounters(s.Metrics, proto)
	if err != nil {
		return fmt.Errorf("rtsp: %w", err)
	}
	s.counters = counters
	s.keys = newKeyGuard(s.Limits, counters, s.Log)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv, err := s.newServer(s.Address)
	if err != nil {
		s.cancel()
		return fmt.Errorf("rtsp: listen on %s: %w (is another program using the port?)", s.Address, err)
	}
	s.srv = srv
	s.wg.Add(1)
	go s.watch()
	s.Log.Info("listening for "+strings.ToUpper(proto)+" publishers", "address", s.Addr())
	return nil
}

// newServer starts a gortsplib server on address.
func (s *RTSPServer) newServer(address string) (*gortsplib.Server, error) {
	srv := &gortsplib.Server{
		Handler:     &rtspHandler{s: s, transportLog: newLogLimiter(s.Log, 10*time.Second)},
		RTSPAddress: address,
		ReadTimeout: s.ReadTimeout,
		TLSConfig:   s.TLS,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := listenGuarded(network, address, "RTSP", s.Limits, s.counters, s.Log)
			if err == nil {
				s.mu.Lock()
				s.addr, s.ln = ln.address, ln
				s.mu.Unlock()
			}
			return ln, err
		},
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return srv, nil
}

// watch restarts the gortsplib server if it stops while salon runs. With
// the guarded listener it has no reason to; this is the last line of
// defence, and it is loud.
func (s *RTSPServer) watch() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		err := srv.Wait()
		if s.ctx.Err() != nil {
			return
		}
		s.Log.Error("RTSP server stopped unexpectedly; restarting it", "error", fmt.Sprint(err),
			"hint", "RTSP publishers were disconnected and can reconnect once it is back; please report this with the log")
		var delay time.Duration
		for attempt := 1; ; attempt++ {
			next, err := s.newServer(s.Addr())
			if err == nil {
				s.mu.Lock()
				if s.ctx.Err() != nil {
					s.mu.Unlock()
					next.Close()
					return
				}
				s.srv = next
				s.mu.Unlock()
				s.Log.Warn("RTSP server restarted; publishers can connect again", "address", s.Addr(), "attempts", attempt)
				break
			}
			delay = min(nextBackoff(delay)*4, 5*time.Second)
			s.Log.Error("cannot restart the RTSP server, retrying: RTSP publishing is down", "error", err.Error(), "retry_in", delay.String(),
				"hint", "check that nothing else took the port")
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}
}

// Addr returns the address the server listens on (host:port).
func (s *RTSPServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close disconnects every publisher, ends their publishes and waits.
func (s *RTSPServer) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	s.wg.Wait()
}

// rtspPublish is the publish state of one RTSP session (its user data).
type rtspPublish struct {
	target publishTarget
	stage  string
	remote string
	tracks []*rtpTrack
	pub    *publication
	errs   *logLimiter
}

// rtspHandler receives gortsplib's callbacks; it keeps them off the
// exported API of RTSPServer.
type rtspHandler struct {
	s *RTSPServer
	// transportLog reports publishers that ask for UDP (rtsp_transport.go).
	transportLog *logLimiter
}

// reply builds a response whose reason phrase carries msg: ffmpeg and
// GStreamer print the reason phrase, so the person publishing sees it.
func reply(code base.StatusCode, msg string) *base.Response {
	res := &base.Response{StatusCode: code}
	if msg != "" {
		res.StatusMessage = statusText(code) + ": " + sanitizeReason(msg)
	}
	return res
}

func statusText(code base.StatusCode) string {
	switch code {
	case base.StatusBadRequest:
		return "Bad Request"
	case base.StatusUnauthorized:
		return "Unauthorized"
	case base.StatusForbidden:
		return "Forbidden"
	case base.StatusNotFound:
		return "Not Found"
	case base.StatusMethodNotAllowed:
		return "Method Not Allowed"
	case base.StatusUnsupportedMediaType:
		return "Unsupported Media Type"
	case statusConflict:
		return "Conflict"
	}
	return "Error"
}

// statusConflict refuses a second publisher on a live stage. RTSP has no
// 409; clients treat it as a 4xx failure and print the reason phrase.
const statusConflict base.StatusCode = 409

// sanitizeReason keeps a reason phrase on one line of printable text.
func sanitizeReason(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	return truncate(string(b), 300)
}

func remoteOf(c *gortsplib.ServerConn) string {
	return c.NetConn().RemoteAddr().String()
}

// authorized checks the key from the query or, failing that, the RTSP
// password. With neither, it prepares the nonce gortsplib sends in the
// WWW-Authenticate challenge.
func (h *rtspHandler) authorized(conn *gortsplib.ServerConn, req *base.Request, t publishTarget) (ok, tried bool) {
	if t.HasKey && keyMatches(t.Key, h.s.Key) {
		return true, true
	}
	var auth headers.Authorization
	if auth.Unmarshal(req.Header["Authorization"]) == nil && auth.Username != "" {
		if auth.Method == headers.AuthMethodBasic {
			return keyMatches(auth.BasicPass, h.s.Key), true
		}
		// Digest: any user name, the key as the password.
		return conn.VerifyCredentials(req, auth.Username, h.s.Key), true
	}
	conn.VerifyCredentials(req, "salon", h.s.Key) // fails; sets the nonce
	return false, t.HasKey
}

// OnAnnounce checks key, stage and codecs before any media is accepted.
func (h *rtspHandler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	remote := remoteOf(ctx.Conn)
	addr := clientKey(ctx.Conn.NetConn().RemoteAddr())
	log := h.s.Log
	target, perr := parsePublishURL(ctx.Path, ctx.Query)
	if wait := h.s.keys.blocked(addr); wait > 0 {
		msg := blockedReason(wait)
		h.s.keys.refuse(addr, target.Stage, msg)
		return reply(base.StatusForbidden, msg), errors.New(msg)
	}
	if ok, tried := h.authorized(ctx.Conn, ctx.Request, target); !ok {
		if tried {
			h.s.keys.failed(addr)
			h.s.keys.refuse(addr, target.Stage, "wrong publish key")
		} else {
			// Clients that authenticate with a password first ask without one.
			log.Debug("publish challenged", "stage", target.Stage, "remote", remote, "reason", "no publish key")
		}
		return reply(base.StatusUnauthorized, ""), liberrors.ErrServerAuth{}
	}
	h.s.keys.succeeded(addr)
	if perr != nil {
		// 404 rather than 400: ffmpeg prints the reason phrase of every
		// failure above 400 but hides it for exactly 400.
		log.Warn("publish refused", "remote", remote, "reason", perr.Error())
		return reply(base.StatusNotFound, perr.Error()), perr
	}
	stage := target.Stage

	tracks, picker := rtpTracks(ctx.Description, ctx.Request.Body)
	if err := picker.result(log, stage, remote); err != nil {
		var ue *unsupportedError
		errors.As(err, &ue)
		log.Warn("publish refused", "stage", stage, "remote", remote, "reason", ue.Error())
		return reply(base.StatusUnsupportedMediaType, ue.Error()), err
	}
	if h.s.Registry.PathLive(stage, target.Rendition) {
		msg := target.busyReason()
		log.Warn("publish refused", "stage", stage, "rendition", stream.RenditionName(target.Rendition), "remote", remote, "reason", msg)
		return reply(statusConflict, msg), errors.New(msg)
	}

	session := ctx.Session
	st := &rtspPublish{
		target: target,
		stage:  stage,
		remote: remote,
		tracks: tracks,
		errs:   newLogLimiter(log, 10*time.Second, "stage", stage, "remote", remote),
	}
	st.pub = newPublication(h.s.Registry, log, &stream.Stream{Stage: stage, Rendition: target.Rendition, Source: "rtsp", Remote: remote}, picker.codecs)
	st.pub.refused = func(error) { session.Close() }
	session.SetUserData(st)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSetup accepts the SETUP requests of a publisher and refuses readers.
func (h *rtspHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() != gortsplib.ServerSessionStatePreRecord {
		return reply(base.StatusMethodNotAllowed, "salon accepts RTSP publishers only; watch on the web page"), nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

// OnDescribe refuses readers with a reason.
func (h *rtspHandler) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return reply(base.StatusMethodNotAllowed, "salon accepts RTSP publishers only; watch on the web page"), nil, nil
}

// OnRecord claims the stage (unless parameter sets are still to come) and
// starts decoding.
func (h *rtspHandler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	st, ok := ctx.Session.UserData().(*rtspPublish)
	if !ok {
		return reply(base.StatusBadRequest, "ANNOUNCE first"), errors.New("RECORD without ANNOUNCE")
	}
	attachRTP(ctx.Session, st.tracks, st.pub, st.errs)
	if err := st.pub.start(); err != nil {
		h.s.Log.Warn("publish refused", "stage", st.stage, "remote", st.remote, "reason", err.Error())
		if errors.Is(err, stream.ErrStageBusy) {
			return reply(statusConflict, st.target.busyReason()), err
		}
		return reply(base.StatusBadRequest, err.Error()), err
	}
	if !st.pub.started() {
		h.s.Log.Info("waiting for in-band parameter sets before publishing", "stage", st.stage, "remote", st.remote)
	}
	// A publisher now: no connection limit closes it; only its own media can.
	promoteConn(ctx.Conn.NetConn())
	session, log := ctx.Session, h.s.Log
	st.pub.watchMedia(h.s.Limits.MediaTimeout, func(idle time.Duration) {
		log.Warn("no media from the publisher; ending its publish so that the stage is free", "stage", st.stage, "remote", st.remote,
			"idle", idle.Round(time.Millisecond).String(), "hint", "the encoder stopped sending while keeping its connection open; restart it")
		h.s.counters.refuse(reasonNoMedia)
		session.Close()
	})
	st.pub.whenEnded(func(error) { session.Close() }) // the registry logged why
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose ends the publish: TEARDOWN, a closed connection or the
// read timeout all end here.
func (h *rtspHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	st, ok := ctx.Session.UserData().(*rtspPublish)
	if !ok {
		return
	}
	wasLive := st.pub.started()
	st.pub.close()
	if wasLive {
		reason := "closed"
		if ctx.Error != nil {
			reason = ctx.Error.Error()
		}
		h.s.Log.Info("publisher left", "stage", st.stage, "remote", st.remote, "reason", reason)
	}
}

// OnPacketsLost reports loss, rate-limited per session.
func (h *rtspHandler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	if st, ok := ctx.Session.UserData().(*rtspPublish); ok {
		st.errs.log("RTP packets lost", "lost", ctx.Lost)
	}
}

// OnDecodeError reports malformed packets, rate-limited per session.
func (h *rtspHandler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	if st, ok := ctx.Session.UserData().(*rtspPublish); ok {
		st.errs.log("cannot decode packet", "error", ctx.Error.Error())
	}
}

// OnStreamWriteError never happens (no readers); it keeps gortsplib from
// using the global logger.
func (h *rtspHandler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.s.Log.Debug("stream write error", "error", ctx.Error)
}
