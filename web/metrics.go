package web

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds web's own collectors.
type metrics struct {
	requests *prometheus.CounterVec // route, code
	bytes    *prometheus.CounterVec // kind: playlist, segment, part
	// The kinds of bytes, resolved once: a live request must not hash its
	// label at every part.
	bytesPlaylist, bytesSegment, bytesPart prometheus.Counter
	viewers                                *prometheus.Desc
	handler                                http.Handler
}

func (s *Server) initMetrics() error {
	if s.Metrics == nil {
		reg := prometheus.NewRegistry()
		s.Metrics = reg
		if s.Gatherer == nil {
			s.Gatherer = reg
		}
	}
	if s.Gatherer == nil {
		g, ok := s.Metrics.(prometheus.Gatherer)
		if !ok {
			return errors.New("web: Gatherer is required when Metrics is not a *prometheus.Registry")
		}
		s.Gatherer = g
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salon_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salon_http_bytes_served_total",
			Help: "Bytes of live HLS served, by kind (playlist or segment, init segments included).",
		}, []string{"kind"}),
		viewers: prometheus.NewDesc("salon_viewers",
			"Distinct clients that fetched the stage's live playlist in the last 10 seconds.",
			[]string{"stage"}, nil),
		handler: promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}),
	}
	// Pre-create the two kinds so dashboards see zeros before traffic.
	m.bytesPlaylist = m.bytes.WithLabelValues("playlist")
	m.bytesSegment = m.bytes.WithLabelValues("segment")
	m.bytesPart = m.bytes.WithLabelValues("part")
	s.metrics = m
	for _, c := range []prometheus.Collector{m.requests, m.bytes, viewerCollector{m.viewers, s.viewers, s.Stages}} {
		if err := s.Metrics.Register(c); err != nil {
			return fmt.Errorf("web: register metrics (is a second web.Server using the same registry?): %w", err)
		}
	}
	return nil
}

// liveBytes is the counter of live bytes of one kind.
func (m *metrics) liveBytes(kind string) prometheus.Counter {
	switch kind {
	case "playlist":
		return m.bytesPlaylist
	case "part":
		return m.bytesPart
	default:
		return m.bytesSegment
	}
}

// viewerCollector reports salon_viewers for every stage the registry knows
// and every stage with recent viewers.
type viewerCollector struct {
	desc    *prometheus.Desc
	viewers *viewers
	stages  stageSource
}

func (c viewerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c viewerCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.viewers.counts(time.Now())
	for _, st := range c.stages.Stages() {
		if _, ok := counts[st.Name]; !ok {
			counts[st.Name] = 0
		}
	}
	for stage, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), stage)
	}
}

// recorder remembers the status and counts the body bytes written.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush, hijack).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts requests by the mux pattern that served them and sets the
// headers every response carries.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		if s.TLS != nil {
			h.Set("Strict-Transport-Security", hstsMaxAge)
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		route := r.Pattern // set by the ServeMux on this request
		if route == "" || route == "/" {
			route = "other"
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	})
}

// Hijack lets the chat's websocket upgrade take the connection over
// (gorilla/websocket asserts http.Hijacker rather than unwrapping).
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be taken over")
	}
	if r.code == 0 {
		r.code = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}
