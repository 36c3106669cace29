package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The load tool speaks just enough websocket (RFC 6455) itself, rather than
// through gorilla/websocket, so that its readers can leave Go's per-connection
// goroutines: at 10,000 viewers each broadcast made 10,000 reader goroutines
// runnable at once, each doing two reads (the second only to learn that the
// socket is empty), and the tool's own scheduling showed up as latency.
// Readers are served by a few epoll loops instead (chat_epoll_linux.go).

// wsConn is one viewer's connection. Until it is handed to an epoll loop
// (readers) it is a net.Conn; stalled viewers keep the net.Conn.
type wsConn struct {
	nc      net.Conn
	fd      int // the socket, once an epoll loop reads it; -1 before
	wmu     sync.Mutex
	partial []byte // bytes of an incomplete frame, read but not yet handled
	msg     []byte // payload of a fragmented message being reassembled
	ended   bool   // the loop stopped reading it (end of connection)
}

// dialWS connects from src, performs the websocket handshake and returns the
// connection with the bytes that followed the handshake.
func dialWS(ctx context.Context, rawURL string, src net.IP) (*wsConn, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != "ws" {
		return nil, nil, fmt.Errorf("%s: the chat load tool speaks ws:// only", rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	nd := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	nc, err := nd.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, nil, err
	}
	buf := make([]byte, 0, 2048)
	for {
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			rest := bytes.Clone(buf[i+4:])
			if err := checkHandshake(buf[:i], key); err != nil {
				nc.Close()
				return nil, nil, err
			}
			_ = nc.SetDeadline(time.Time{})
			return &wsConn{nc: nc, fd: -1}, rest, nil
		}
		if len(buf) == cap(buf) {
			nc.Close()
			return nil, nil, errors.New("handshake response headers too long")
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
}

// errHTTPStatus is a handshake refused with an HTTP status.
type errHTTPStatus int

func (e errHTTPStatus) Error() string { return "http " + strconv.Itoa(int(e)) }

func checkHandshake(head []byte, key string) error {
	lines := strings.Split(string(head), "\r\n")
	f := strings.Fields(lines[0])
	if len(f) < 2 {
		return fmt.Errorf("bad handshake status line %q", lines[0])
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("bad handshake status line %q", lines[0])
	}
	if code != 101 {
		return errHTTPStatus(code)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	want := base64.StdEncoding.EncodeToString(sum[:])
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Accept") {
			if strings.TrimSpace(val) != want {
				return errors.New("handshake: wrong Sec-WebSocket-Accept")
			}
			return nil
		}
	}
	return errors.New("handshake: no Sec-WebSocket-Accept header")
}

// frameError is a server frame the tool cannot parse.
type frameError string

func (e frameError) Error() string { return string(e) }

// WebSocket opcodes.
const (
	opCont  = 0
	opText  = 1
	opClose = 8
	opPing  = 9
	opPong  = 10
)

// nextFrame parses one server frame (unmasked) at the start of p; n is 0 when
// p does not hold a whole frame yet.
func nextFrame(p []byte) (op byte, fin bool, payload []byte, n int, err error) {
	if len(p) < 2 {
		return 0, false, nil, 0, nil
	}
	fin = p[0]&0x80 != 0
	op = p[0] & 0x0f
	if p[1]&0x80 != 0 {
		return 0, false, nil, 0, frameError("server frame is masked")
	}
	l, h := uint64(p[1]&0x7f), 2
	switch l {
	case 126:
		if len(p) < 4 {
			return 0, false, nil, 0, nil
		}
		l, h = uint64(binary.BigEndian.Uint16(p[2:])), 4
	case 127:
		if len(p) < 10 {
			return 0, false, nil, 0, nil
		}
		l, h = binary.BigEndian.Uint64(p[2:]), 10
	}
	if l > 64<<20 {
		return 0, false, nil, 0, frameError(fmt.Sprintf("server frame of %d bytes", l))
	}
	if uint64(len(p)-h) < l {
		return 0, false, nil, 0, nil
	}
	return op, fin, p[h : h+int(l)], h + int(l), nil
}

// clientFrame encodes a masked client frame.
func clientFrame(op byte, payload []byte) []byte {
	f := make([]byte, 0, len(payload)+14)
	f = append(f, 0x80|op)
	switch l := len(payload); {
	case l < 126:
		f = append(f, 0x80|byte(l))
	case l < 1<<16:
		f = append(f, 0x80|126, byte(l>>8), byte(l))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(l))
	}
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], mrand.Uint32())
	f = append(f, m[:]...)
	for i, b := range payload {
		f = append(f, b^m[i&3])
	}
	return f
}

// frames hands each complete message or control frame in data (after any
// partial bytes kept from before) to fn, and keeps an incomplete tail for
// next time. fn gets whole messages: fragments are reassembled.
func (c *wsConn) frames(data []byte, fn func(op byte, payload []byte)) error {
	if len(c.partial) > 0 {
		c.partial = append(c.partial, data...)
		data = c.partial
	}
	for {
		op, fin, payload, n, err := nextFrame(data)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		data = data[n:]
		switch {
		case op >= opClose: // control frames are never fragmented
			fn(op, payload)
		case !fin:
			c.msg = append(c.msg, payload...)
		case op == opCont:
			c.msg = append(c.msg, payload...)
			fn(opText, c.msg)
			c.msg = c.msg[:0]
		default:
			fn(op, payload)
		}
	}
	switch {
	case len(data) == 0:
		if cap(c.partial) > 4096 {
			c.partial = nil
		}
		c.partial = c.partial[:0]
	case len(c.partial) > 0 && &data[0] == &c.partial[len(c.partial)-len(data)]:
		c.partial = c.partial[:copy(c.partial, data)]
	default:
		c.partial = append(c.partial[:0], data...)
	}
	return nil
}

// readWelcome reads frames on the net.Conn until the first message, which
// it returns; later bytes stay in c.partial, control frames are answered.
func (c *wsConn) readWelcome(rest []byte, deadline time.Time) ([]byte, error) {
	_ = c.nc.SetReadDeadline(deadline)
	defer c.nc.SetReadDeadline(time.Time{})
	var welcome []byte
	var ferr error
	buf := make([]byte, 4096)
	data := rest
	for {
		err := c.frames(data, func(op byte, p []byte) {
			switch {
			case ferr != nil:
			case op == opPing:
				ferr = c.write(opPong, p)
			case op == opClose:
				ferr = closeErr(p)
			case welcome == nil && op == opText:
				welcome = bytes.Clone(p)
			}
		})
		if err != nil {
			return nil, err
		}
		if ferr != nil {
			return nil, ferr
		}
		if welcome != nil {
			return welcome, nil
		}
		n, err := c.nc.Read(buf)
		if err != nil {
			return nil, err
		}
		data = buf[:n]
	}
}

// closeErr describes a close frame's payload as the old gorilla-based tool
// did: "closed CODE TEXT".
func closeErr(p []byte) error {
	code := 1005
	text := ""
	if len(p) >= 2 {
		code = int(binary.BigEndian.Uint16(p))
		text = string(p[2:])
	}
	return errors.New("closed " + strconv.Itoa(code) + " " + text)
}

// sendText writes a text message.
func (c *wsConn) sendText(msg []byte) error { return c.write(opText, msg) }

// write sends one frame, on the net.Conn or, once an epoll loop reads the
// socket, directly on it (non-blocking; it retries for up to 5 s).
func (c *wsConn) write(op byte, payload []byte) error {
	f := clientFrame(op, payload)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd < 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err := c.nc.Write(f)
		return err
	}
	_, err := writeFD(c.fd, f, 5*time.Second)
	return err
}

// tryWrite is write for an epoll loop, which must not wait: it does nothing
// when a sender is writing on c or the socket has no room at once.
func (c *wsConn) tryWrite(op byte, payload []byte) error {
	if !c.wmu.TryLock() {
		return nil
	}
	defer c.wmu.Unlock()
	if c.fd < 0 {
		return nil
	}
	_, err := writeFD(c.fd, clientFrame(op, payload), 0)
	return err
}

// Close ends the connection.
func (c *wsConn) Close() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd >= 0 {
		err := closeFD(c.fd)
		c.fd = -2 // closed: writes fail
		return err
	}
	if c.fd == -2 {
		return nil
	}
	return c.nc.Close()
}

// serverClosed drains a stalled viewer's connection and reports whether the
// server had closed it (rather than the read merely timing out).
func (c *wsConn) serverClosed() bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64<<10)
	closed := false
	data := c.partial
	c.partial = nil
	for !closed {
		if err := c.frames(data, func(op byte, _ []byte) {
			closed = closed || op == opClose
		}); err != nil {
			return true // garbage: not a timeout either
		}
		if closed {
			break
		}
		n, err := c.nc.Read(buf)
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
		data = buf[:n]
	}
	return true
}
