package ingest

import (
	"container/list"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Accept back-off, as net/http's Server.Serve does: 5 ms doubling to 1 s
// while accepting fails (too many open files, say), and between attempts to
// reopen a listener that died.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// guardedListener is an ingest port's listener. Its Accept never gives up:
// temporary errors (EMFILE, ENFILE, ECONNABORTED…) are retried with
// back-off, and a listener that fails for good is reopened on the same
// address, loudly. It returns an error only once it is closed, so the
// protocol server above it (gortsplib's, or the RTMP accept loop) never
// stops — and never drops its publishers — because of an accept error.
//
// It also admits connections under Limits: each connection that does not
// publish yet is closed after HandshakeTimeout, and when MaxConns (per port)
// or MaxConnsPerAddr (per client address) is reached the oldest of them is
// closed to make room. promote (on guardedConn) takes a publisher out of
// these bounds for good.
//
// Last, it keeps descriptors for the rest of salon: a connection whose
// descriptor number is within fdReserve of the open-file limit is closed at
// once (descriptors are allocated lowest first, so a high number means the
// table is nearly full). Ingest floods then cannot starve the spool, the
// HTTP server or the publishers of descriptors.
//
// mu guards ln, closed, waiting and perAddr.
type guardedListener struct {
	network, address string // address is the bound host:port, for reopening
	listen           func(network, address string) (net.Listener, error)
	limits           Limits
	proto            string // "RTSP" or "RTMP", for people
	log              *slog.Logger
	acceptLog        *logLimiter
	refuseLog        *keyedLogLimiter
	counters         *ingestCounters
	fdLimit          int // the open-file limit when the listener opened (0: unknown)
	fdMax            int // refuse connections whose descriptor is >= fdMax (0: no check)

	mu      sync.Mutex
	ln      net.Listener
	closed  bool
	done    chan struct{} // closed by Close: ends back-off sleeps
	waiting *list.List    // of *guardedConn not publishing yet, oldest first
	perAddr map[netip.Addr]int
}

// listenGuarded opens a guarded listener on address.
func listenGuarded(network, address, proto string, limits Limits, counters *ingestCounters, log *slog.Logger) (*guardedListener, error) {
	l := &guardedListener{
		counters:  counters,
		network:   network,
		listen:    net.Listen,
		limits:    limits.withDefaults(),
		proto:     proto,
		log:       log,
		acceptLog: newLogLimiter(log, 10*time.Second, "protocol", proto),
		refuseLog: newKeyedLogLimiter(log, 30*time.Second),
		done:      make(chan struct{}),
		waiting:   list.New(),
		perAddr:   map[netip.Addr]int{},
	}
	if lim := openFileLimit(); lim > 0 {
		l.fdLimit, l.fdMax = lim, lim-fdReserve(lim)
	}
	ln, err := l.listen(network, address)
	if err != nil {
		return nil, err
	}
	l.ln, l.address = ln, ln.Addr().String()
	return l, nil
}

// Addr returns the bound address.
func (l *guardedListener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ln.Addr()
}

// Close stops accepting. Connections already accepted stay open: their
// owner closes them.
func (l *guardedListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.done)
	return l.ln.Close()
}

func (l *guardedListener) current() (net.Listener, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ln, l.closed
}

// sleep waits d or until Close; it tells whether the listener is still open.
func (l *guardedListener) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.done:
		return false
	}
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return minAcceptBackoff
	}
	return min(2*d, maxAcceptBackoff)
}

// Accept returns the next admitted connection; it fails only after Close.
func (l *guardedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		ln, closed := l.current()
		if closed {
			return nil, net.ErrClosed
		}
		c, err := ln.Accept()
		if err != nil {
			if _, closed := l.current(); closed {
				return nil, net.ErrClosed
			}
			delay = nextBackoff(delay)
			l.counters.acceptError()
			if temporaryAcceptError(err) {
				l.acceptLog.log("cannot accept "+l.proto+" connections, retrying; publishers already connected are not affected",
					"error", err.Error(), "retry_in", delay.String(),
					"hint", "if it is 'too many open files', raise the open-file limit (ulimit -n / LimitNOFILE) or lower the connection limits")
			} else {
				l.reopen(ln, err)
				delay = 0
				continue
			}
			if !l.sleep(delay) {
				return nil, net.ErrClosed
			}
			continue
		}
		delay = 0
		if gc := l.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// temporaryAcceptError tells whether accepting may work again by itself:
// the process or system is out of descriptors or memory, or one client
// gave up during the handshake.
func temporaryAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// reopen replaces a listener that failed for good with a new one on the
// same address, retrying with back-off until it works or Close.
func (l *guardedListener) reopen(old net.Listener, cause error) {
	l.log.Error(l.proto+" listener failed; reopening it — publishers already connected keep publishing",
		"address", l.address, "error", cause.Error(),
		"hint", "if this repeats, check that the address still exists on this machine and nothing else took the port")
	_ = old.Close()
	var delay time.Duration
	for attempt := 1; ; attempt++ {
		ln, err := l.listen(l.network, l.address)
		if err == nil {
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				ln.Close()
				return
			}
			l.ln = ln
			l.mu.Unlock()
			l.log.Warn(l.proto+" listener reopened; publishers can connect again", "address", l.address, "attempts", attempt)
			return
		}
		delay = min(nextBackoff(delay)*4, 5*time.Second)
		l.acceptLog.log("cannot reopen the "+l.proto+" listener, retrying: new publishers cannot connect until it works",
			"address", l.address, "error", err.Error(), "retry_in", delay.String())
		if !l.sleep(delay) {
			return
		}
	}
}

// fdReserve is how many descriptors below the open-file limit ingest
// leaves to the rest of salon: an eighth, at least 16.
func fdReserve(limit int) int { return max(16, limit/8) }

// admit wraps c and enforces the connection limits; it closes the oldest
// waiting connections (possibly c itself when it is alone over the limit)
// to make room.
func (l *guardedListener) admit(c net.Conn) *guardedConn {
	key := clientKey(c.RemoteAddr())
	if l.fdMax > 0 {
		if fd := connFD(c); fd >= l.fdMax {
			l.refuseLog.log(slog.LevelWarn, "fd", "refusing new "+l.proto+" connections: salon is near its open-file limit; publishers already connected are not affected",
				"descriptor", fd, "limit", l.fdLimit, "hint", "raise the open-file limit (ulimit -n / LimitNOFILE), or lower -ingest-max-conns")
			l.counters.refuse(reasonFDLimit)
			c.Close()
			return nil
		}
	}
	gc := &guardedConn{Conn: c, l: l, key: key}
	var victims []*guardedConn
	var reason, counted string
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil
	}
	if l.perAddr[key] >= l.limits.MaxConnsPerAddr {
		if v := l.oldestLocked(func(o *guardedConn) bool { return o.key == key }); v != nil {
			victims = append(victims, v)
			reason, counted = "too many connections from this address that are not publishing", reasonAddrLimit
		}
	}
	if len(victims) == 0 && l.waiting.Len() >= l.limits.MaxConns {
		if v := l.oldestLocked(func(*guardedConn) bool { return true }); v != nil {
			victims = append(victims, v)
			reason, counted = "too many connections on this port that are not publishing", reasonPortLimit
		}
	}
	for _, v := range victims {
		l.releaseLocked(v)
	}
	gc.elem = l.waiting.PushBack(gc)
	l.perAddr[key]++
	gc.timer = time.AfterFunc(l.limits.HandshakeTimeout, gc.expire)
	l.mu.Unlock()
	for _, v := range victims {
		l.refuseLog.log(slog.LevelWarn, "limit:"+v.key.String(), "closing the oldest "+l.proto+" connection that is not publishing",
			"remote", v.key.String(), "reason", reason)
		l.counters.refuse(counted)
		v.Close()
	}
	return gc
}

// oldestLocked returns the oldest waiting connection that matches.
func (l *guardedListener) oldestLocked(match func(*guardedConn) bool) *guardedConn {
	for e := l.waiting.Front(); e != nil; e = e.Next() {
		if gc := e.Value.(*guardedConn); match(gc) {
			return gc
		}
	}
	return nil
}

// releaseLocked takes gc out of the waiting bounds.
func (l *guardedListener) releaseLocked(gc *guardedConn) {
	if gc.elem == nil {
		return
	}
	l.waiting.Remove(gc.elem)
	gc.elem = nil
	if l.perAddr[gc.key]--; l.perAddr[gc.key] <= 0 {
		delete(l.perAddr, gc.key)
	}
	gc.timer.Stop()
}

// waitingConns tells how many connections are not publishing (for tests).
func (l *guardedListener) waitingConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting.Len()
}

// guardedConn is a connection accepted by a guardedListener. Until promote,
// it counts against the limits and its handshake timer runs.
type guardedConn struct {
	net.Conn
	l     *guardedListener
	key   netip.Addr
	timer *time.Timer

	elem      *list.Element // in l.waiting while not publishing; guarded by l.mu
	closeOnce sync.Once

	// rb buffers the reads of a publisher (readbuf.go); buffered is set by
	// promote.
	buffered atomic.Bool
	rb       readBuffer
}

// promote marks the connection as a publisher: no limit closes it anymore.
func (c *guardedConn) promote() {
	c.buffered.Store(true)
	c.l.mu.Lock()
	c.l.releaseLocked(c)
	c.l.mu.Unlock()
}

// expire closes a connection that did not start publishing in time.
func (c *guardedConn) expire() {
	c.l.mu.Lock()
	waiting := c.elem != nil
	c.l.mu.Unlock()
	if !waiting {
		return
	}
	c.l.refuseLog.log(slog.LevelInfo, "timeout:"+c.key.String(), "closing "+c.l.proto+" connections that did not start publishing in time",
		"remote", c.key.String(), "timeout", c.l.limits.HandshakeTimeout.String())
	c.l.counters.refuse(reasonHandshakeTimeout)
	c.Close()
}

func (c *guardedConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		c.l.releaseLocked(c)
		c.l.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}

// promoteConn promotes c when it came from a guardedListener, below TLS
// on RTMPS and RTSPS.
func promoteConn(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if gc, ok := c.(*guardedConn); ok {
		gc.promote()
	}
}
