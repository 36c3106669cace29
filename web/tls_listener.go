package web

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// acmeALPN is the protocol a TLS-ALPN-01 validation negotiates (RFC 8737);
// the certificate answers it during the handshake and the connection has
// nothing more to say.
const acmeALPN = "acme-tls/1"

// tlsListener puts TLS between the connection limits and HTTP: the
// connLimiter below counts TCP connections (a handshake in progress holds one)
// and the reserve's deadline applies to the handshake too, while the
// smuggling sniffer reads the decrypted stream of HTTP/1.1 connections.
//
// The handshake happens here, in a goroutine per connection, rather than in
// net/http, because net/http treats a connection as TLS only when it is a
// *tls.Conn and then reads it directly: a sniffer could not sit in between.
// So:
//   - "h2" connections go to net/http as the *tls.Conn, which hands them to
//     its HTTP/2 server. HTTP/2 frames are binary and net/http's HTTP/2
//     server refuses Transfer-Encoding outright (RFC 9113 §8.2.2), so there
//     is no head to sniff; HTTP/2 lets a viewer's playlist and segment
//     requests share one connection, which the per-address limit likes.
//     (Websockets open an HTTP/1.1 connection of their own: net/http does not
//     offer RFC 8441's extended CONNECT by default.)
//   - every other protocol (http/1.1, or none offered) goes to net/http as a
//     tlsConn, which feeds the sniffer and reports the TLS state, so
//     Request.TLS is set as usual.
type tlsListener struct {
	inner   *connLimiter
	config  *tls.Config
	timeout time.Duration
	log     *slog.Logger

	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

func newTLSListener(inner *connLimiter, config *tls.Config, timeout time.Duration, log *slog.Logger) *tlsListener {
	t := &tlsListener{
		inner: inner, config: config, timeout: timeout, log: log,
		conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{}),
	}
	go t.acceptLoop()
	return t
}

// acceptLoop accepts TCP connections and starts their handshakes. An accept
// error goes to net/http's Accept, which backs off on temporary ones (EMFILE)
// before it asks again; this loop waits for it, so the back-off paces both.
func (t *tlsListener) acceptLoop() {
	for {
		c, err := t.inner.Accept()
		if err != nil {
			select {
			case t.errs <- err:
			case <-t.done:
				return
			}
			var temp interface{ Temporary() bool }
			if errors.As(err, &temp) && temp.Temporary() {
				continue
			}
			return
		}
		go t.handshake(c.(*limitConn))
	}
}

// handshake runs the TLS handshake on lc within the timeout (or the
// organiser's reserve wait, whichever is shorter) and hands the connection
// to net/http.
func (t *tlsListener) handshake(lc *limitConn) {
	tc := tls.Server(lc, t.config)
	_ = lc.SetDeadline(time.Now().Add(t.timeout)) // clamped for the reserve
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil && looksLikeHTTP(rh.RecordHeader) {
			// As net/http does: tell a plain-HTTP client what it did.
			_, _ = io.WriteString(rh.Conn, "HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use https:// in the address.\n")
		}
		t.log.Debug("tls handshake failed", "addr", lc.RemoteAddr().String(), "error", err)
		_ = tc.Close()
		return
	}
	_ = lc.SetDeadline(time.Time{}) // net/http sets its own; the reserve keeps its clamp
	st := tc.ConnectionState()
	var out net.Conn
	switch st.NegotiatedProtocol {
	case "h2":
		out = tc
	case acmeALPN:
		_ = tc.Close()
		return
	default:
		out = &tlsConn{Conn: tc, lc: lc}
	}
	select {
	case t.conns <- out:
	case <-t.done:
		_ = out.Close()
	}
}

// looksLikeHTTP reports whether a TLS record header is the start of a
// plain HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

// Accept returns the next connection whose handshake is done.
func (t *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-t.conns:
		return c, nil
	case err := <-t.errs:
		return nil, err
	case <-t.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting. A handshake in progress ends within its timeout
// and its connection is closed.
func (t *tlsListener) Close() error {
	var err error
	t.once.Do(func() {
		close(t.done)
		err = t.inner.Close()
	})
	return err
}

func (t *tlsListener) Addr() net.Addr { return t.inner.Addr() }

// tlsConn is an HTTP/1.1 connection over TLS: its reads, decrypted, feed the
// smuggling sniffer of the TCP connection below. Its ConnectionState makes
// net/http fill Request.TLS.
type tlsConn struct {
	*tls.Conn
	lc *limitConn
}

func (c *tlsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.lc.sniffRead(p[:n])
	return n, err
}
