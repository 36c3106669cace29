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
	// viewer has to dial again between requests).
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
	if b.MaxIdleConnsPerHost == 0 {
		b.MaxIdleConnsPerHost = b.N + 16
	}
	if b.Mode == "" {
		b.Mode = ModeClassic
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

	tracks, err := b.tracks(ctx)
	if err != nil {
		return nil, err
	}
	b.Log.Info("starting viewers", "url", b.URL, "tracks", len(tracks), "mode", b.Mode, "n", b.N, "ramp", b.Ramp, "duration", b.Duration)
	// A viewer is one player per track (a video and an audio playlist at
	// MediaMTX, one playlist at salon), each in its own goroutine.
	players := make([][]player, b.N)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range players {
		offset := b.Ramp * time.Duration(i) / time.Duration(b.N)
		for _, t := range tracks {
			p := b.newPlayer(b.ViewerIDPrefix+"-"+strconv.Itoa(i), t)
			players[i] = append(players[i], p)
			wg.Go(func() {
				if sleepUntil(ctx, start.Add(offset)) {
					p.run(ctx)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)

	stats := make([]*viewerStats, b.N)
	for i, ps := range players {
		stats[i] = mergeStats(ps)
	}
	r := summarize(stats, elapsed)
	r.Mode = b.Mode
	r.Tracks = len(tracks)
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

// player is one simulated player of one media playlist.
type player interface {
	run(ctx context.Context)
	viewerStats() *viewerStats
}

func (v *viewer) viewerStats() *viewerStats { return &v.stats }

func (b *Viewers) newPlayer(id string, track *url.URL) player {
	v := viewer{
		id:          id,
		client:      b.client,
		playlistURL: track,
		allowRemote: b.AllowRemote,
		timeout:     b.Timeout,
		bufs:        b.bufs,
	}
	if b.Mode == ModeLL {
		return &llViewer{viewer: v, hints: b.Hints, skip: b.Skip}
	}
	return &v
}

// tracks loads URL once before the run: a media playlist is the one track; a multivariant
// playlist gives its first variant and that variant's audio rendition when
// it has its own playlist (tracksOf).
func (b *Viewers) tracks(ctx context.Context) ([]*url.URL, error) {
	probe := viewer{client: b.client, timeout: b.Timeout, bufs: b.bufs, id: b.ViewerIDPrefix + "-probe",
		playlistURL: b.playlistURL, allowRemote: b.AllowRemote}
	body, _, err := probe.get(ctx, b.playlistURL, true)
	if err != nil {
		// Play it anyway: the viewers count what fails, as with a server
		// that stops answering during the run.
		b.Log.Warn("cannot load the playlist before the run; playing it as a media playlist", "url", b.URL, "err", err)
		return []*url.URL{b.playlistURL}, nil
	}
	if !isMultivariant(body) {
		return []*url.URL{b.playlistURL}, nil
	}
	uris, err := tracksOf(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.URL, err)
	}
	var out []*url.URL
	for _, s := range uris {
		u, err := probe.resolve(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.URL, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// mergeStats adds up the players of one viewer: it played when every track
// played, its startup is the slowest track's.
func mergeStats(ps []player) *viewerStats {
	if len(ps) == 1 {
		return ps[0].viewerStats()
	}
	m := &viewerStats{started: true}
	for _, p := range ps {
		s := p.viewerStats()
		m.playlists += s.playlists
		m.segments += s.segments
		m.initSegments += s.initSegments
		m.bytes += s.bytes
		m.stalls += s.stalls
		m.stallTime += s.stallTime
		m.missed += s.missed
		m.parts += s.parts
		m.hints += s.hints
		m.segLatency = append(m.segLatency, s.segLatency...)
		m.plLatency = append(m.plLatency, s.plLatency...)
		m.partLatency = append(m.partLatency, s.partLatency...)
		m.hintLatency = append(m.hintLatency, s.hintLatency...)
		for k, n := range s.errors {
			if m.errors == nil {
				m.errors = make(map[string]int64)
			}
			m.errors[k] += n
		}
		m.started = m.started && s.started
		m.startup = max(m.startup, s.startup)
	}
	return m
}

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
