package ingest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/ingest/stream"
)

// rtspOptions asks addr for OPTIONS and tells whether it answered 200.
func rtspOptions(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("OPTIONS rtsp://" + addr + "/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "RTSP/1.0 200")
}

func waitOptions(t *testing.T, addr, what string) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !rtspOptions(addr); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("RTSP does not answer %s", what)
		}
	}
}

// TestRTSPServer_ListenerFailure: the listener under gortsplib dies while a
// publisher streams. The listener is reopened on the same port and the
// publisher is not dropped. Then the gortsplib server itself stops: it is
// restarted, loudly.
func TestRTSPServer_ListenerFailure(t *testing.T) {
	reg, rec := newTestRegistry(t)
	log, buf := teeLogger(t)
	srv := &RTSPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log}
	if err := srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	args := append(testInputs(true, false, 0), x264()...)
	startFFmpeg(t, append(args, "-f", "rtsp", "-rtsp_transport", "tcp", rtspURL(srv, "main", testKey))...)
	rec.waitFor(t, "the publish", func(evs []stream.Event) bool { return count(evs, isStart) == 1 })

	srv.mu.Lock()
	gl := srv.ln
	srv.mu.Unlock()
	gl.mu.Lock()
	inner := gl.ln
	gl.mu.Unlock()
	inner.Close() // the listener dies from under gortsplib
	waitOptions(t, srv.Addr(), "after its listener died")
	before := len(rec.snapshot())
	evs := rec.waitFor(t, "more units from the publisher", func(evs []stream.Event) bool { return len(evs) > before+50 })
	if n := count(evs, isEnd); n != 0 {
		t.Fatalf("the publisher was dropped when the listener died (%d ends)", n)
	}
	if !strings.Contains(buf.String(), "RTSP listener failed; reopening it") {
		t.Errorf("no log line about the listener:\n%s", buf.String())
	}

	srv.mu.Lock()
	gs := srv.srv
	srv.mu.Unlock()
	gs.Close() // as if gortsplib stopped by itself
	rec.waitFor(t, "the end of the publish", func(evs []stream.Event) bool { return count(evs, isEnd) == 1 })
	waitOptions(t, srv.Addr(), "after the server stopped")
	if !strings.Contains(buf.String(), "level=ERROR msg=\"RTSP server stopped unexpectedly; restarting it\"") {
		t.Errorf("no ERROR line about the restart:\n%s", buf.String())
	}
}

func TestPublication_WatchMedia(t *testing.T) {
	reg, _ := newTestRegistry(t)
	p := newPublication(reg, testLogger(t), &stream.Stream{Stage: "main", Source: "test"}, nil)
	stalled := make(chan time.Duration, 1)
	const timeout = time.Second
	p.watchMedia(timeout, func(idle time.Duration) { stalled <- idle })
	// Media keeps it alive well past the timeout.
	for end := time.Now().Add(5 * timeout / 2); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		p.writeAudio(0, nil, 0, 0, 48000, time.Now())
		select {
		case idle := <-stalled:
			t.Fatalf("stalled after %s while media kept coming", idle)
		default:
		}
	}
	select {
	case idle := <-stalled:
		if idle < timeout {
			t.Errorf("stalled after %s of silence, want at least %s", idle, timeout)
		}
	case <-time.After(waitLimit):
		t.Fatal("no stall reported for a publisher that stopped sending")
	}
	p.close()
}
