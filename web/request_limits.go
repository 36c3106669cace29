package web

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// errBodyTooSlow is what a handler reading a body gets when the client sends
// it slower than Limits.BodyMinRate or pauses longer than BodyIdle.
var errBodyTooSlow = errors.New("the request body arrived too slowly; send it again over a faster connection")

// limitBody bounds the reading of r's body by a minimum data rate: the
// connection's read deadline starts at BodyGrace and moves forward with every
// chunk received (BodyMinRate bytes earn one more second), never more than
// BodyIdle ahead. A client that declares a body and never sends it is cut
// after BodyGrace; a slow but steady upload of any size gets through.
func (s *Server) limitBody(w http.ResponseWriter, r *http.Request, lc *limitConn) {
	rc := http.NewResponseController(w)
	start := time.Now()
	if err := rc.SetReadDeadline(start.Add(s.limits.BodyGrace)); err != nil {
		return // not a connection that has deadlines (a test recorder)
	}
	r.Body = &rateBody{ReadCloser: r.Body, limits: &s.limits, rc: rc, lc: lc, addr: r.RemoteAddr, start: start}
}

type rateBody struct {
	io.ReadCloser
	limits *Limits
	rc     *http.ResponseController
	lc     *limitConn
	addr   string
	start  time.Time
	read   int64
	done   bool
}

func (b *rateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	switch {
	case err == nil:
		l := b.limits
		earned := b.start.Add(l.BodyGrace + time.Duration(float64(b.read)/float64(l.BodyMinRate)*float64(time.Second)))
		if max := time.Now().Add(l.BodyIdle); earned.After(max) {
			earned = max
		}
		_ = b.rc.SetReadDeadline(earned)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !b.done && b.lc != nil {
			b.done = true
			b.lc.l.count("slow_body", remoteAddr(b.addr))
		}
		return n, errBodyTooSlow
	default:
		// The end of the body (or another error): net/http's check for the
		// client going away must not time out while the handler works.
		if !b.done {
			b.done = true
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// limitWrites bounds each write of the response: the connection's write
// deadline is set WriteIdle ahead before every write, so a client that stops
// reading (its socket buffers full) is cut after WriteIdle, while a long
// download that keeps moving is never cut. A websocket that takes the
// connection over starts without a deadline and sets its own.
func (s *Server) limitWrites(w http.ResponseWriter) http.ResponseWriter {
	rc := http.NewResponseController(w)
	if rc.SetWriteDeadline(time.Now().Add(s.limits.WriteIdle)) != nil {
		return w // not a connection that has deadlines (a test recorder)
	}
	return &idleWriter{ResponseWriter: w, rc: rc, idle: s.limits.WriteIdle}
}

type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *idleWriter) extend() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.idle)) }

func (w *idleWriter) WriteHeader(code int) {
	w.extend()
	w.ResponseWriter.WriteHeader(code)
}

func (w *idleWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(p)
}

// Flush and Unwrap keep http.ResponseController working through the wrapper.
func (w *idleWriter) Flush() {
	w.extend()
	_ = w.rc.Flush()
}

func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection over without a write deadline
// (gorilla/websocket asserts http.Hijacker rather than unwrapping).
func (w *idleWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := w.rc.Hijack()
	if err == nil {
		_ = c.SetWriteDeadline(time.Time{})
	}
	return c, rw, err
}
