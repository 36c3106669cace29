//go:build linux

package bench

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// epollLoop reads the sockets of many viewers: one epoll set, polled
// without waiting, and one read per ready socket (a read that fills the
// buffer is followed by another; a shorter one emptied the socket). When no
// socket is ready the loop sleeps for pollEvery rather than waiting in
// epoll_wait: a waiting reader must be woken by each arriving segment, and on
// loopback that wake-up is paid inside salon's write (at 10,000 viewers ×
// 10 msg/s, 100,000 wake-ups a second, which a real audience on other
// machines would not cost it). Each read's bytes are stamped when the read
// returns, so the polling shows up in the latency, never hides from it.
type epollLoop struct {
	ep       int
	handle   func(v *chatViewer, data []byte, now int64, err error)
	stamp    func() int64
	mu       sync.Mutex // guards byFD against add during a round
	byFD     map[int32]*chatViewer
	done     chan struct{}
	stopping atomic.Bool
	failure  error
}

// pollEvery is how long an epoll loop sleeps when no socket was ready.
const pollEvery = time.Millisecond

func newEpollLoop(stamp func() int64, handle func(*chatViewer, []byte, int64, error)) (*epollLoop, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	l := &epollLoop{
		ep:     fd,
		handle: handle,
		stamp:  stamp,
		byFD:   map[int32]*chatViewer{},
		done:   make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// add takes the viewer's socket out of Go's poller (a duplicate descriptor
// stays open; closing the original unregisters it) and reads it here.
func (l *epollLoop) add(v *chatViewer) error {
	sc, ok := v.conn.nc.(syscall.Conn)
	if !ok {
		return errors.New("connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var dup int
	var derr error
	if err := rc.Control(func(fd uintptr) { dup, derr = syscall.Dup(int(fd)) }); err != nil {
		return err
	}
	if derr != nil {
		return fmt.Errorf("dup: %w", derr)
	}
	syscall.CloseOnExec(dup)
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return err
	}
	v.conn.wmu.Lock()
	v.conn.fd = dup
	v.conn.wmu.Unlock()
	v.conn.nc.Close()
	l.mu.Lock()
	l.byFD[int32(dup)] = v
	l.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(dup)}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, dup, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

// forget stops reading fd (the connection ended); the loop's own goroutine
// calls it.
func (l *epollLoop) forget(fd int32) {
	_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, int(fd), nil)
	l.mu.Lock()
	delete(l.byFD, fd)
	l.mu.Unlock()
}

func (l *epollLoop) run() {
	defer close(l.done)
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for !l.stopping.Load() {
		n, err := syscall.EpollWait(l.ep, events, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			l.failure = fmt.Errorf("epoll_wait: %w", err)
			return
		}
		if n == 0 {
			time.Sleep(pollEvery)
			continue
		}
		for _, ev := range events[:n] {
			l.mu.Lock()
			v := l.byFD[ev.Fd]
			l.mu.Unlock()
			if v == nil {
				continue
			}
			for {
				k, rerr := syscall.Read(int(ev.Fd), buf)
				now := l.stamp()
				if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
					break
				}
				if rerr == nil && k == 0 {
					rerr = errEOF
				}
				if rerr != nil {
					l.forget(ev.Fd)
					l.handle(v, nil, now, rerr)
					break
				}
				l.handle(v, buf[:k], now, nil)
				if v.conn.ended {
					l.forget(ev.Fd)
					break
				}
				if k < len(buf) {
					break
				}
			}
		}
	}
}

// stop ends the loop and waits for it.
func (l *epollLoop) stop() error {
	l.stopping.Store(true)
	<-l.done
	syscall.Close(l.ep)
	return l.failure
}

var errEOF = errors.New("EOF")

func closeFD(fd int) error { return syscall.Close(fd) }

// writeFD writes all of p to a non-blocking socket, waiting up to timeout
// for room; with timeout 0 it gives up (sent false) when the socket takes
// none of p at once.
func writeFD(fd int, p []byte, timeout time.Duration) (sent bool, err error) {
	deadline := time.Now().Add(timeout)
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		if n > 0 {
			p = p[n:]
			sent = true
		}
		switch {
		case err == syscall.EAGAIN && !sent && timeout == 0:
			return false, nil
		case err == syscall.EAGAIN:
			if time.Now().After(deadline) {
				return sent, errors.New("write to the server timed out (its socket buffer stayed full)")
			}
			time.Sleep(time.Millisecond)
		case err == syscall.EINTR:
		case err != nil:
			return sent, err
		}
	}
	return true, nil
}
