// Package bench simulates many HLS viewers of one salon live stage and
// measures what they experience (stalls, fetch latency, errors) together with
// the CPU and memory the server and the load tool spend. cmd/salon-bench is its
// command line.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// Viewers runs N simulated players against one media playlist for a bounded
// time. Fill the parameters, call Initialize, then Run (as often as needed),
// then Close.
type Viewers struct {
	// parameters

	// URL of the media playlist, e.g. http://127.0.0.1:8080/live/main/index.m3u8.
	URL string
	// N is the number of viewers.
	N int
	// Ramp spreads the N starts evenly over this time (0: all at once). It
	// must be shorter than Duration.
	Ramp time.Duration
	// Duration bounds the run, ramp included (default 60 s).
	Duration time.Duration
	// Timeout bounds each request, body included (default 10 s).
	Timeout time.Duration
	// MaxConnsPerHost limits the connections of the shared transport (0: no
	// limit; each viewer then holds about one keep-alive connection, like a
	// browser would).
	MaxConnsPerHost int
	// MaxIdleConnsPerHost is the keep-alive pool size (default N + 16, so no
	// viewer has to dial again between requests; 4N + 16 in LL mode).
	MaxIdleConnsPerHost int
	// PID of the salon process to sample (0: none).
	PID int
	// AllowRemote permits a URL (and segment URIs) outside loopback. Off by
	// default so a typo cannot load somebody else's server.
	AllowRemote bool
	// ViewerIDPrefix starts each X-Salon-Viewer value (default "bench-" and a
	// random run id, so repeated runs count as new viewers).
	ViewerIDPrefix string
	// Mode is "classic" (default: segments, reloads at the target-duration
	// rhythm) or "ll" (Low-Latency HLS: blocking reloads and parts; see
	// llViewer).
	Mode string
	// Hints makes LL viewers request EXT-X-PRELOAD-HINT parts ahead (held by
	// the server until the part exists), as Apple's players do; without it
	// they request a part once a playlist lists it, as hls.js does.
	Hints bool
	// Skip makes LL viewers ask for delta playlists (_HLS_skip=YES) when the
	// server offers them (CAN-SKIP-UNTIL).
	Skip bool
	// NetHTTP makes LL viewers use Go's net/http client (the shared
	// transport) instead of two lean HTTP/1.1 connections each (rawconn.go),
	// to compare what the tool itself costs.
	NetHTTP bool
	// Log receives progress events (default: discard).
	Log *slog.Logger

	// private

	playlistURL *url.URL
	transport   *http.Transport
	client      *http.Client
	bufs        *sync.Pool
}

// Initialize validates the parameters, fills defaults and builds the shared
// HTTP transport.
func (b *Viewers) Initialize() error {
	if b.N <= 0 {
		return fmt.Errorf("-n must be at least 1 (got %d)", b.N)
	}
	if b.Duration == 0 {
		b.Duration = 60 * time.Second
	}
	if b.Timeout == 0 {
		b.Timeout = 10 * time.Second
	}
	if b.Mode == "" {
		b.Mode = ModeClassic
	}
	if b.MaxIdleConnsPerHost == 0 {
		b.MaxIdleConnsPerHost = b.N + 16
		if b.Mode == ModeLL {
			// Two requests in flight per track (the blocking reload and the
			// hinted part) and up to two tracks (MediaMTX's audio playlist):
			// keep them all alive rather than dial again for every part.
			b.MaxIdleConnsPerHost = 4*b.N + 16
		}
	}
	if b.Log == nil {
		b.Log = slog.New(slog.DiscardHandler)
	}
	if b.ViewerIDPrefix == "" {
		var id [4]byte
		_, _ = rand.Read(id[:])
		b.ViewerIDPrefix = "bench-" + hex.EncodeToString(id[:])
	}
	switch {
	case b.Duration < 0:
		return fmt.Errorf("-duration must be positive (got %s)", b.Duration)
	case b.Ramp < 0 || b.Ramp >= b.Duration:
		return fmt.Errorf("-ramp (%s) must be at least 0 and shorter than -duration (%s)", b.Ramp, b.Duration)
	case b.Timeout < 0:
		return fmt.Errorf("-timeout must be positive (got %s)", b.Timeout)
	case b.MaxConnsPerHost < 0 || b.MaxIdleConnsPerHost < 0:
		return errors.New("-conns must be 0 (no limit) or more")
	case b.Mode != ModeClassic && b.Mode != ModeLL:
		return fmt.Errorf("-mode must be %q or %q (got %q)", ModeClassic, ModeLL, b.Mode)
	case b.PID < 0:
		return fmt.Errorf("-pid must be a process id (got %d)", b.PID)
	}
	u, err := checkURL(b.URL, b.AllowRemote)
	if err != nil {
		return err
	}
	b.playlistURL = u

	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	b.transport = &http.Transport{
		Proxy:                 nil, // never send benchmark load through a proxy from the environment
		DialContext:           dialer.DialContext,
		MaxIdleConns:          0, // no global limit; the per-host one applies
		MaxIdleConnsPerHost:   b.MaxIdleConnsPerHost,
		MaxConnsPerHost:       b.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: b.Timeout,
		// HTTP/1.1 only: browsers each hold their own connections, while HTTP/2
		// would multiplex every simulated viewer over one.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	b.bufs = &sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
	allowRemote := b.AllowRemote
	host := u.Host
	b.client = &http.Client{
		Transport: b.transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			if !allowRemote && req.URL.Host != host {
				return &remoteError{url: req.URL.String()}
			}
			return nil
		},
	}
	return nil
}

// Close drops the idle keep-alive connections, so the server sees the
// viewers leave.
func (b *Viewers) Close() {
	if b.transport != nil {
		b.transport.CloseIdleConnections()
	}
}

// Run starts the viewers over Ramp, stops them all when Duration has passed
// (or ctx ends) and returns the summary. An error means the run could not be
// measured at all (e.g. -pid names no readable process).
func (b *Viewers) Run(parent context.Context) (*Result, error) {
	ctx, cancel := context.WithTimeout(parent, b.Duration)
	defer cancel()

	var salonStart procSample
	if b.PID != 0 {
		var err error
		if salonStart, err = sampleProc(strconv.Itoa(b.PID)); err != nil {
			return nil, err
		}
	}
	selfStart, err := sampleProc("self")
	if err != nil {
		return nil, err
	}

	b.Log.Info("starting viewers", "url", b.URL, "mode", b.Mode, "n", b.N, "ramp", b.Ramp, "duration", b.Duration)
	sessions := make([]*session, b.N)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range sessions {
		s := &session{b: b, id: b.ViewerIDPrefix + "-" + strconv.Itoa(i)}
		sessions[i] = s
		offset := b.Ramp * time.Duration(i) / time.Duration(b.N)
		wg.Go(func() {
			if sleepUntil(ctx, start.Add(offset)) {
				s.run(ctx)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	stats := make([]*viewerStats, b.N)
	for i, s := range sessions {
		stats[i] = s.stats()
	}
	r := summarize(stats, elapsed)
	r.Mode = b.Mode
	for _, s := range sessions {
		r.Tracks = max(r.Tracks, len(s.players))
	}
	r.URL = b.URL
	r.RampSeconds = b.Ramp.Seconds()
	r.Interrupted = parent.Err() != nil
	if b.PID != 0 {
		end, err := sampleProc(strconv.Itoa(b.PID))
		if err != nil {
			return nil, fmt.Errorf("salon process ended during the run? %w", err)
		}
		u := usageBetween(b.PID, salonStart, end)
		r.Salon = &u
	}
	selfEnd, err := sampleProc("self")
	if err != nil {
		return nil, err
	}
	r.Tool = usageBetween(os.Getpid(), selfStart, selfEnd)
	b.Log.Info("viewers done", "segments", r.Segments, "stalls", r.Stalls, "errors", r.ErrorCount)
	return r, nil
}

// Viewer modes.
const (
	ModeClassic = "classic"
	ModeLL      = "ll"
)

// checkURL parses the playlist URL and refuses hosts outside loopback unless
// allowRemote is set. Host names other than "localhost" are refused because
// what they resolve to can change between the check and the requests.
func checkURL(raw string, allowRemote bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("-url is required: the media playlist, e.g. http://127.0.0.1:8080/live/main/index.m3u8")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url %q: want an http:// or https:// URL", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("-url %q has no host", raw)
	}
	if allowRemote {
		return u, nil
	}
	h := u.Hostname()
	if h == "localhost" {
		return u, nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return u, nil
	}
	return nil, fmt.Errorf("-url host %q is not loopback: load-testing another machine needs -allow-remote (make sure it is yours)", h)
}

// CheckLoopbackURL refuses URLs whose host is not loopback, for the bench
// commands that only read (they must never touch another machine by mistake).
func CheckLoopbackURL(raw string) error {
	_, err := checkURL(raw, false)
	return err
}
