package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection of one LL player, used by
// that player's goroutine only. An LL player holds two (its blocking
// playlist reloads on one, its parts and preload hints on the other), as a
// browser keeps a few connections per host. It exists because the load tool
// shares the two cores with the server: net/http's client costs two
// goroutines per connection, three goroutine hand-offs and a dozen
// allocations per request, and at ten requests per viewer per second that
// was as much CPU as the server spent answering them. Here a request is one
// write of a prepared head and the response is read by the caller itself.
//
// It speaks only what the live servers it measures answer: GET, status 200
// or an error status, a body with Content-Length, chunked, or up to the
// connection's close.
type rawConn struct {
	addr string // host:port to dial
	host string // Host header
	id   string // X-Salon-Viewer

	c    net.Conn
	br   *bufio.Reader
	head []byte // the request being written, reused
	used bool   // a response was read on c: a failure before the next one's first byte may be a closed keep-alive
	stop func() bool

	// pending is set between send and receive.
	pending bool
}

func newRawConn(u *url.URL, id string) *rawConn {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &rawConn{addr: addr, host: u.Host, id: id}
}

// aLongTimeAgo makes every blocked read and write of a connection return.
var aLongTimeAgo = time.Unix(1, 0)

// dial opens the connection; ctx ending closes what it is doing.
func (rc *rawConn) dial(ctx context.Context, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", rc.addr)
	if err != nil {
		return err
	}
	rc.c = c
	rc.used = false
	if rc.br == nil {
		rc.br = bufio.NewReaderSize(c, 4<<10)
	} else {
		rc.br.Reset(c)
	}
	rc.stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(aLongTimeAgo) })
	return nil
}

// close drops the connection; the next request dials again.
func (rc *rawConn) close() {
	if rc.c == nil {
		return
	}
	rc.stop()
	_ = rc.c.Close()
	rc.c = nil
	rc.pending = false
}

// send writes a GET of u (u's host must be the connection's).
func (rc *rawConn) send(ctx context.Context, u *url.URL, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rc.c == nil {
		if err := rc.dial(ctx, timeout); err != nil {
			return err
		}
	}
	h := append(rc.head[:0], "GET "...)
	if u.Opaque != "" {
		h = append(h, u.Opaque...)
	} else {
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		h = append(h, p...)
	}
	if u.RawQuery != "" {
		h = append(h, '?')
		h = append(h, u.RawQuery...)
	}
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, rc.host...)
	h = append(h, "\r\nUser-Agent: salon-bench\r\nX-Salon-Viewer: "...)
	h = append(h, rc.id...)
	h = append(h, "\r\n\r\n"...)
	rc.head = h
	_ = rc.c.SetDeadline(time.Now().Add(timeout))
	if _, err := rc.c.Write(h); err != nil {
		rc.close()
		return err
	}
	rc.pending = true
	return nil
}

// errStaleConn is a keep-alive connection the server closed before
// answering: the request may be sent again on a new one.
var errStaleConn = errors.New("keep-alive connection closed by the server")

// receive reads the response to the request sent last. With keep, the body
// (at most maxPlaylistBytes) is returned; otherwise it is read into buf and
// dropped. n counts the body bytes read. A status other than 200 is a
// *statusError (the body is read all the same, so the connection stays
// usable).
func (rc *rawConn) receive(u *url.URL, keep bool, buf []byte) (body []byte, n int64, err error) {
	if !rc.pending {
		return nil, 0, errors.New("receive without a request")
	}
	rc.pending = false
	code, length, chunked, closeAfter, err := rc.readHead()
	if err != nil {
		stale := rc.used && (errors.Is(err, io.EOF) || isReset(err))
		rc.close()
		if stale {
			return nil, 0, errStaleConn
		}
		return nil, 0, err
	}
	var r io.Reader = rc.br
	switch {
	case chunked:
		r = httputil.NewChunkedReader(rc.br)
	case length >= 0:
		r = io.LimitReader(rc.br, length)
	default:
		closeAfter = true // read to the close
	}
	if keep {
		body, err = io.ReadAll(io.LimitReader(r, maxPlaylistBytes+1))
		n = int64(len(body))
		if err == nil && n > maxPlaylistBytes {
			err = fmt.Errorf("playlist larger than %d bytes", maxPlaylistBytes)
			closeAfter = true
		}
	} else {
		n, err = readAll(r, buf)
	}
	if err == nil && length >= 0 && !chunked && n < length {
		err = io.ErrUnexpectedEOF
	}
	if chunked && err == nil {
		err = rc.skipTrailers()
	}
	if err != nil {
		rc.close()
		return nil, n, fmt.Errorf("read %s: %w", u, err)
	}
	rc.used = true
	if closeAfter {
		rc.close()
	}
	if code != 200 {
		return nil, n, &statusError{code: code, url: u.String()}
	}
	return body, n, nil
}

// readAll reads r to its end through buf and returns the bytes read.
func readAll(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// readHead reads the status line and the headers the body needs.
func (rc *rawConn) readHead() (code int, length int64, chunked, closeAfter bool, err error) {
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return 0, 0, false, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, 0, false, false, fmt.Errorf("bad status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, 0, false, false, fmt.Errorf("bad status line %q", line)
	}
	closeAfter = line[7] == '0' // HTTP/1.0
	length = -1
	for {
		line, err = rc.br.ReadSlice('\n')
		if err != nil {
			return 0, 0, false, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "content-length"):
			if length, err = strconv.ParseInt(string(v), 10, 64); err != nil || length < 0 {
				return 0, 0, false, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case asciiEqualFold(k, "transfer-encoding"):
			chunked = asciiEqualFold(v, "chunked")
		case asciiEqualFold(k, "connection"):
			closeAfter = closeAfter || asciiEqualFold(v, "close")
		}
	}
	if code == 204 || code == 304 || (code >= 100 && code < 200) {
		length = 0
	}
	return code, length, chunked, closeAfter, nil
}

// skipTrailers reads what follows a chunked body's last chunk, up to the
// empty line.
func (rc *rawConn) skipTrailers() error {
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// get sends a GET of u and reads its response, sending it again once on a
// new connection when a kept-alive one turned out to be closed.
func (rc *rawConn) get(ctx context.Context, u *url.URL, keep bool, buf []byte, timeout time.Duration) ([]byte, int64, error) {
	for attempt := 0; ; attempt++ {
		if err := rc.send(ctx, u, timeout); err != nil {
			if attempt == 0 && rc.used {
				rc.close()
				continue
			}
			return nil, 0, err
		}
		body, n, err := rc.receive(u, keep, buf)
		if errors.Is(err, errStaleConn) && attempt == 0 {
			continue
		}
		if errors.Is(err, errStaleConn) {
			err = io.ErrUnexpectedEOF
		}
		return body, n, err
	}
}
