package web

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimiter wraps the HTTP listener: it counts open connections in total
// and per address, refuses new ones past the limits with a short HTTP answer,
// and marks the connections accepted inside the organiser's reserve.
//
// mu guards open and perAddr; the refusal log's rate state has its own
// mutex (logMu).
type connLimiter struct {
	net.Listener
	limits  Limits
	shared  []netip.Prefix
	log     *slog.Logger
	refused *prometheus.CounterVec // reason
	// tls is set when a tlsListener sits above: refusals are closed without
	// an answer (a client expecting a handshake cannot read plain HTTP, and
	// a handshake to refuse would spend the CPU the limit protects), and the
	// sniffer reads the decrypted stream (tlsConn) rather than these bytes.
	tls bool

	mu      sync.Mutex
	open    int
	perAddr map[netip.Prefix]int

	logMu   sync.Mutex
	lastLog map[string]time.Time
	skipped map[string]int
}

func newConnLimiter(ln net.Listener, l Limits, sharedNets []netip.Prefix, log *slog.Logger, refused *prometheus.CounterVec) *connLimiter {
	return &connLimiter{
		Listener: ln, limits: l, shared: sharedNets, log: log, refused: refused,
		perAddr: map[netip.Prefix]int{}, lastLog: map[string]time.Time{}, skipped: map[string]int{},
	}
}

// Refusals answered before a request is read: the client gets a status and
// a reason instead of a reset.
var (
	refuseTotal   = rawJSONError("503 Service Unavailable", "the server has too many connections; try again in a moment")
	refusePerAddr = rawJSONError("429 Too Many Requests", "too many connections from your address; close other tabs")
)

// rawJSONError is a whole HTTP/1.1 response with {"error": msg}, closing the
// connection; msg must need no JSON escaping.
func rawJSONError(status, msg string) string {
	body := `{"error":"` + msg + `"}` + "\n"
	return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// Accept returns the next connection within the limits; connections past
// them are answered, closed and counted here.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteAddr(c.RemoteAddr().String())
		key := addrKey(addr)
		isShared := shared(l.shared, addr)
		l.mu.Lock()
		switch {
		case l.open >= l.limits.MaxConns:
			l.mu.Unlock()
			l.refuse(c, "total", refuseTotal, addr)
			continue
		case !isShared && l.perAddr[key] >= l.limits.MaxConnsPerAddr:
			l.mu.Unlock()
			l.refuse(c, "per_address", refusePerAddr, addr)
			continue
		}
		l.open++
		l.perAddr[key]++
		reserve := l.open > l.limits.MaxConns-l.limits.ReserveConns
		l.mu.Unlock()
		lc := &limitConn{Conn: c, l: l, key: key, reserve: reserve}
		if reserve {
			lc.reserveBy = time.Now().Add(reserveHeaderWait)
		}
		return lc, nil
	}
}

func (l *connLimiter) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.perAddr[key] - 1; n > 0 {
		l.perAddr[key] = n
	} else {
		delete(l.perAddr, key)
	}
}

// conns is the number of connections open now.
func (l *connLimiter) conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// refuse answers c with resp and closes it. The socket is new, so the short
// write goes to its buffer; the deadline covers a peer that sends nothing
// back and has a full window.
func (l *connLimiter) refuse(c net.Conn, reason, resp string, addr netip.Addr) {
	if l.tls {
		_ = c.Close()
		l.count(reason, addr)
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(resp))
	_ = c.Close()
	l.count(reason, addr)
}

// count counts a refusal and logs it at most once a minute per reason, with
// the number of refusals since the last line.
func (l *connLimiter) count(reason string, addr netip.Addr) {
	l.refused.WithLabelValues(reason).Inc()
	l.logMu.Lock()
	now := time.Now()
	if now.Sub(l.lastLog[reason]) < time.Minute {
		l.skipped[reason]++
		l.logMu.Unlock()
		return
	}
	l.lastLog[reason] = now
	n := l.skipped[reason] + 1
	l.skipped[reason] = 0
	l.logMu.Unlock()
	msg := map[string]string{
		"total":       "http connection refused: the server holds -http-max-conns connections",
		"per_address": "http connection refused: too many from one address (raise -http-max-conns-per-addr, or list a venue's NAT in -chat-shared-nets)",
		"reserve":     "http request refused: the last connections are kept for the organiser (-http-reserve-conns)",
		"smuggling":   "http request refused: both Content-Length and Transfer-Encoding (request smuggling)",
		"slow_body":   "http request body too slow: cut (-http-body-min-rate)",
	}[reason]
	l.log.Warn(msg, "addr", addr.String(), "refused", n, "per", "minute")
}

// limitConn is one accepted connection. Every read passes through the
// smuggling sniffer, also after a websocket takes the connection over: a
// client's frames are masked, so they do not look like request heads, and
// stopping on an Upgrade header would let a refused upgrade switch the
// check off for the rest of a keep-alive connection.
type limitConn struct {
	net.Conn
	l       *connLimiter
	key     netip.Prefix
	reserve bool // accepted inside the organiser's reserve
	once    sync.Once

	sniff    smuggleSniffer // touched only by Read, which is never called concurrently
	smuggled atomic.Bool

	// reserveBy is when a connection inside the reserve must have sent the
	// organiser's request; admitted is set once it has.
	reserveBy time.Time
	admitted  atomic.Bool
}

// reserveHeaderWait is how long a connection inside the organiser's reserve
// may take to send its first request: silent connections must not hold the
// reserve for the server's whole header timeout.
const reserveHeaderWait = 2 * time.Second

// SetReadDeadline keeps net/http's header deadline of a reserve connection
// within reserveBy until the organiser's request has been admitted.
func (c *limitConn) SetReadDeadline(t time.Time) error {
	if c.reserve && !c.admitted.Load() && (t.IsZero() || t.After(c.reserveBy)) {
		t = c.reserveBy
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline is SetReadDeadline and SetWriteDeadline.
func (c *limitConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.l.tls {
		c.sniffRead(p[:n])
	}
	return n, err
}

// sniffRead feeds bytes the HTTP server read to the smuggling sniffer.
func (c *limitConn) sniffRead(p []byte) {
	if len(p) > 0 && !c.smuggled.Load() && c.sniff.feed(p) {
		c.smuggled.Store(true)
	}
}

func (c *limitConn) Close() error {
	c.once.Do(func() { c.l.release(c.key) })
	return c.Conn.Close()
}

// initLimits fills the limits' defaults and registers their metric.
func (s *Server) initLimits() error {
	s.limits = s.Limits.withDefaults()
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "salon_http_refused_total",
		Help: "HTTP connections and requests refused by the limits, by reason (total, per_address, reserve, smuggling, slow_body).",
	}, []string{"reason"})
	for _, r := range []string{"total", "per_address", "reserve", "smuggling", "slow_body"} {
		s.refused.WithLabelValues(r)
	}
	return s.Metrics.Register(s.refused)
}

type connCtxKey struct{}

// connContext is the http.Server's ConnContext: it lets handlers find their
// limitConn, below TLS when the port serves HTTPS.
func connContext(ctx context.Context, c net.Conn) context.Context {
	var lc *limitConn
	switch c := c.(type) {
	case *limitConn:
		lc = c
	case *tlsConn:
		lc = c.lc
	case *tls.Conn: // HTTP/2
		lc, _ = c.NetConn().(*limitConn)
	}
	if lc != nil {
		return context.WithValue(ctx, connCtxKey{}, lc)
	}
	return ctx
}

// guard is the outermost handler: it refuses smuggling attempts and, on
// connections inside the reserve, everyone but the organiser, and bounds the
// time a request body may take.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lc, _ := r.Context().Value(connCtxKey{}).(*limitConn)
		if lc != nil {
			addr := remoteAddr(r.RemoteAddr)
			if lc.smuggled.Load() {
				// RFC 9112 §6.1: such a message "ought to be handled as an
				// error", and the connection closed: what follows the body
				// may be a second request hidden from a proxy in front.
				lc.l.count("smuggling", addr)
				w.Header().Set("Connection", "close")
				s.resp.jsonError(w, http.StatusBadRequest, "a request may not have both Content-Length and Transfer-Encoding")
				return
			}
			if lc.reserve && !lc.admitted.Load() && s.organiser(r) {
				lc.admitted.Store(true)
				_ = lc.Conn.SetReadDeadline(time.Time{}) // net/http sets its own again per request
			}
			if lc.reserve && !lc.admitted.Load() {
				lc.l.count("reserve", addr)
				w.Header().Set("Connection", "close")
				w.Header().Set("Retry-After", "5")
				s.resp.jsonError(w, http.StatusServiceUnavailable, "the server is at its connection limit; try again in a moment")
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			s.limitBody(w, r, lc)
		}
		next.ServeHTTP(s.limitWrites(w), r)
	})
}

// organiser reports whether r carries the admin token or a live console
// session cookie. It runs on every request of a connection inside the
// reserve until one is admitted, so the cookie is found by scanning the
// header, not by parsing every cookie (r.Cookie allocates each of them),
// and the session is two hashes on the stack and one map lookup. The CSRF check of a
// state change is the handler's, as on any connection.
func (s *Server) organiser(r *http.Request) bool {
	if tok, ok := cutBearer(r.Header.Get("Authorization")); ok {
		return s.auth.isAdmin(tok)
	}
	id := cookieValue(r.Header["Cookie"], sessionCookie)
	if id == "" {
		return false
	}
	return s.sessions.valid(id, time.Now())
}

// cookieValue is the value of the first cookie called name in the Cookie
// header lines, or "" (quotes around the value are dropped, as net/http
// does).
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

func cutBearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):], true
	}
	return "", false
}
