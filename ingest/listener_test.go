package ingest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails Accept with errs, one per call, then accepts from ln.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (f *flakyListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	return f.Listener.Accept()
}

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: &osSyscallError{errno}}
}

// osSyscallError wraps an errno as os.SyscallError does.
type osSyscallError struct{ err syscall.Errno }

func (e *osSyscallError) Error() string { return "accept4: " + e.err.Error() }
func (e *osSyscallError) Unwrap() error { return e.err }

func TestGuardedListener_Accept(t *testing.T) {
	cases := []struct {
		name    string
		errs    []error
		wantLog string
	}{
		{"too many open files", []error{acceptErr(syscall.EMFILE), acceptErr(syscall.EMFILE), acceptErr(syscall.EMFILE)}, "cannot accept RTSP connections, retrying"},
		{"file table full", []error{acceptErr(syscall.ENFILE)}, "cannot accept RTSP connections, retrying"},
		{"aborted handshake", []error{acceptErr(syscall.ECONNABORTED)}, "cannot accept RTSP connections, retrying"},
		{"listener died", []error{errors.New("use of closed network connection")}, "RTSP listener failed; reopening it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, buf := teeLogger(t)
			l, err := listenGuarded("tcp", "127.0.0.1:0", "RTSP", Limits{}, nil, log)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			l.ln = &flakyListener{Listener: l.ln, errs: tc.errs}
			addr := l.Addr().String()
			// Keep dialing: a connection waiting on a listener that is
			// reopened is lost with it, as it would be in real life.
			done := make(chan struct{})
			defer close(done)
			go func() {
				for {
					if c, err := net.Dial("tcp", addr); err == nil {
						go func() { <-done; c.Close() }()
					}
					select {
					case <-done:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			c, err := l.Accept()
			if err != nil {
				t.Fatalf("Accept after %v: %v", tc.errs, err)
			}
			c.Close()
			if !strings.Contains(buf.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, buf.String())
			}
			if got := l.Addr().String(); got != addr {
				t.Errorf("listening on %s after the errors, want %s", got, addr)
			}
		})
	}
}

// TestGuardedListener_Reopen closes the real listener under a running
// accept loop: it is reopened on the same address and accepts again.
func TestGuardedListener_Reopen(t *testing.T) {
	log, buf := teeLogger(t)
	l, err := listenGuarded("tcp", "127.0.0.1:0", "RTMP", Limits{}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	addr := l.Addr().String()
	l.mu.Lock()
	inner := l.ln
	l.mu.Unlock()
	inner.Close() // from under the accept loop: not our Close
	var c net.Conn
	for deadline := time.Now().Add(waitLimit); c == nil; {
		c, err = net.Dial("tcp", addr)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("nothing listens on %s after the listener died: %v\n%s", addr, err, buf.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	defer c.Close()
	sc := <-accepted
	sc.Close()
	if !strings.Contains(buf.String(), "level=ERROR") || !strings.Contains(buf.String(), "RTMP listener failed; reopening it") {
		t.Errorf("no ERROR line about the reopened listener:\n%s", buf.String())
	}
	l.Close()
	if _, ok := <-accepted; ok {
		t.Error("Accept returned a connection after Close")
	}
}

// dialFrom connects to addr from the loopback address src (127.0.0.x).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer tells whether the server closed c (read returns EOF or a
// reset within the wait).
func closedByPeer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestGuardedListener_Limits(t *testing.T) {
	log, buf := teeLogger(t)
	limits := Limits{MaxConns: 6, MaxConnsPerAddr: 3, HandshakeTimeout: time.Hour}
	l, err := listenGuarded("tcp", "127.0.0.1:0", "RTSP", limits, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var server []*guardedConn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			server = append(server, c.(*guardedConn))
			mu.Unlock()
		}
	}()
	addr := l.Addr().String()
	accepted := func(n int) []*guardedConn {
		t.Helper()
		for deadline := time.Now().Add(waitLimit); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got := append([]*guardedConn(nil), server...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d connections accepted, want %d", len(got), n)
			}
		}
	}

	// A publisher from 127.0.0.2 first: promoted, it never counts.
	pub := dialFrom(t, "127.0.0.2", addr)
	accepted(1)[0].promote()

	// Four from 127.0.0.3, over its cap of 3: its oldest is closed.
	var a []net.Conn
	for i := range 4 {
		a = append(a, dialFrom(t, "127.0.0.3", addr))
		accepted(2 + i)
	}
	if !closedByPeer(a[0], waitLimit) {
		t.Error("the oldest of 4 connections from one address is still open; cap is 3")
	}
	for _, c := range a[1:] {
		if closedByPeer(c, 50*time.Millisecond) {
			t.Error("a connection within the per-address cap was closed")
		}
	}
	// Four more from four addresses: 3 + 4 = 7 > 6, so the oldest waiting
	// (a[1]) goes; the publisher stays.
	var b []net.Conn
	for i := range 4 {
		b = append(b, dialFrom(t, fmt.Sprintf("127.0.0.%d", 10+i), addr))
		accepted(6 + i)
	}
	if !closedByPeer(a[1], waitLimit) {
		t.Error("the oldest waiting connection is still open with the port over its budget")
	}
	if closedByPeer(pub, 50*time.Millisecond) {
		t.Error("the publisher was closed because of other people's connections")
	}
	if n := l.waitingConns(); n != 6 {
		t.Errorf("%d waiting connections, want the budget of 6", n)
	}
	if !strings.Contains(buf.String(), "closing the oldest RTSP connection that is not publishing") {
		t.Errorf("no log line for the closed connections:\n%s", buf.String())
	}
}

func TestGuardedListener_HandshakeTimeout(t *testing.T) {
	log, buf := teeLogger(t)
	l, err := listenGuarded("tcp", "127.0.0.1:0", "RTMP", Limits{HandshakeTimeout: 200 * time.Millisecond}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conns := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	silent := dialFrom(t, "127.0.0.1", l.Addr().String())
	<-conns
	pub := dialFrom(t, "127.0.0.1", l.Addr().String())
	promoteConn(<-conns)
	if !closedByPeer(silent, waitLimit) {
		t.Fatal("a silent connection outlived the handshake timeout")
	}
	if closedByPeer(pub, 500*time.Millisecond) {
		t.Error("a promoted connection was closed by the handshake timeout")
	}
	if n := l.waitingConns(); n != 0 {
		t.Errorf("%d waiting connections after the timeout, want 0", n)
	}
	if !strings.Contains(buf.String(), "did not start publishing in time") {
		t.Errorf("no log line for the timeout:\n%s", buf.String())
	}
}
