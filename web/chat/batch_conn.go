package chat

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// batchWriter hands gorilla a batchConn when it hijacks the connection.
type batchWriter struct{ http.ResponseWriter }

func (w batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("chat: the server's ResponseWriter cannot be hijacked (HTTP/2?); websockets need HTTP/1.1")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return newBatchConn(conn), brw, nil
}

// batchConn lets a writer gather the frames gorilla writes one by one into a
// single write to the socket. Between hold and release, writes (the frames,
// and a ping or pong sent meanwhile) are appended to a pooled buffer, and
// write deadlines are remembered rather than applied. A flusher worker
// (tryHold, tryRelease) writes without blocking; bytes the socket did not
// take stay in the buffer ("pending"), later writes are appended after them,
// and the write pump's release writes them out. The wire carries exactly the
// frames gorilla encoded, in order.
type batchConn struct {
	net.Conn
	raw      syscall.RawConn // for non-blocking writes; nil when Conn has none
	mu       sync.Mutex
	buf      *[]byte   // non-nil while held or while bytes are pending
	held     bool      // between hold and release
	noWait   bool      // held by tryHold: nothing may block until tryRelease
	deadline time.Time // latest deadline asked for while held
	applied  time.Time // write deadline set on Conn
}

func newBatchConn(conn net.Conn) *batchConn {
	b := &batchConn{Conn: conn}
	if sc, ok := conn.(syscall.Conn); ok && nonBlockingWrites {
		b.raw, _ = sc.SyscallConn()
	}
	return b
}

// deadlineSlack: a new write deadline less than this after the one already
// set on the socket is not applied; re-arming the socket's timer for every
// frame costs more than the precision is worth (WriteTimeout is 10 s).
const deadlineSlack = time.Second

func (b *batchConn) hold(pool *sync.Pool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holdLocked(pool)
}

// tryHold is hold for a flusher worker, which must not wait: false when a
// direct write is under way (it may block) or bytes are pending (the write
// pump owns them).
func (b *batchConn) tryHold(pool *sync.Pool) bool {
	if !b.mu.TryLock() {
		return false
	}
	defer b.mu.Unlock()
	if b.buf != nil {
		return false
	}
	b.holdLocked(pool)
	b.noWait = true
	return true
}

func (b *batchConn) holdLocked(pool *sync.Pool) {
	if b.buf == nil {
		bp, _ := pool.Get().(*[]byte)
		if bp == nil {
			s := make([]byte, 0, 4096)
			bp = &s
		}
		b.buf = bp
	}
	b.held = true
	b.noWait = false
	b.deadline = time.Time{}
}

// hasPending reports bytes a non-blocking write left unwritten.
func (b *batchConn) hasPending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf != nil && !b.held && len(*b.buf) > 0
}

// release writes what was gathered (and anything pending), waiting for the
// socket, and returns to direct writes.
func (b *batchConn) release(pool *sync.Pool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.putLocked(pool)
	return err
}

// tryRelease writes what was gathered with one non-blocking write. When the
// socket takes only part of it, wouldBlock is true and the rest stays
// pending for the write pump's release.
func (b *batchConn) tryRelease(pool *sync.Pool) (wouldBlock bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held, b.noWait = false, false
	p := *b.buf
	if len(p) > 0 && b.raw != nil {
		// The socket may carry a deadline from the pump's or a pong's last
		// blocking write; once passed it would fail this write.
		if !b.applied.IsZero() {
			b.applied = time.Time{}
			if err := b.Conn.SetWriteDeadline(time.Time{}); err != nil {
				return false, err
			}
		}
		var n int
		var werr error
		if err := b.raw.Write(func(fd uintptr) bool {
			for len(p) > 0 {
				n, werr = writeFD(fd, p)
				if n > 0 {
					p = p[n:]
				}
				if werr != syscall.EINTR {
					break
				}
			}
			return true // never wait: the pump does
		}); err != nil {
			return false, err
		}
		if werr != nil && werr != syscall.EAGAIN {
			return false, werr
		}
		if len(p) > 0 {
			*b.buf = (*b.buf)[:copy(*b.buf, p)]
			return true, nil
		}
	} else if len(p) > 0 {
		return true, nil // no non-blocking writes on this connection
	}
	b.putLocked(pool)
	return false, nil
}

func (b *batchConn) putLocked(pool *sync.Pool) {
	bp := b.buf
	b.buf = nil
	b.held, b.noWait = false, false
	if cap(*bp) <= maxBatch*2 {
		*bp = (*bp)[:0]
		pool.Put(bp)
	}
}

func (b *batchConn) flushLocked() error {
	if len(*b.buf) == 0 {
		return nil
	}
	if !b.deadline.IsZero() {
		if err := b.setDeadlineLocked(b.deadline); err != nil {
			return err
		}
	}
	_, err := b.Conn.Write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return b.Conn.Write(p)
	}
	// Held, or bytes pending: keep the order.
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= maxBatch && b.held && !b.noWait {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return b.setDeadlineLocked(t)
	}
	if t.After(b.deadline) {
		b.deadline = t // the latest: a pong's short deadline must not cut the batch short
	}
	return nil
}

func (b *batchConn) setDeadlineLocked(t time.Time) error {
	if !t.IsZero() && !b.applied.IsZero() && !t.Before(b.applied) && t.Sub(b.applied) < deadlineSlack {
		return nil
	}
	b.applied = t
	return b.Conn.SetWriteDeadline(t)
}
