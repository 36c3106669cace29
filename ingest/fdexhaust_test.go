//go:build linux

package ingest

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/salon/salon/ingest/stream"
)

// TestIngest_AcceptUnderFDExhaustion runs TestFDExhaustionChild in a child
// process whose open-file limit is small, so that accept really fails with
// "too many open files" (issue 13, finding 1: that used to end RTSP and RTMP
// ingest for good and drop the live publisher).
func TestIngest_AcceptUnderFDExhaustion(t *testing.T) {
	needTool(t, "ffmpeg")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFDExhaustionChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "SALON_INGEST_FD_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFDExhaustionChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "cannot accept") || strings.Contains(line, "child:") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// TestFDExhaustionChild: a publisher streams over RTSP; then every
// descriptor of the process is taken and clients connect to both ports.
// Accepting fails with EMFILE: the servers back off and log, the publisher
// keeps streaming, and once descriptors are free again both ports accept.
func TestFDExhaustionChild(t *testing.T) {
	if os.Getenv("SALON_INGEST_FD_CHILD") != "1" {
		t.Skip("run by TestIngest_AcceptUnderFDExhaustion in a child process")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 128
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	reg, rec := newTestRegistry(t)
	log, buf := teeLogger(t)
	rtsp := &RTSPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log}
	if err := rtsp.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rtsp.Close)
	rtmp := &RTMPServer{Address: "127.0.0.1:0", Key: testKey, Registry: reg, Log: log}
	if err := rtmp.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rtmp.Close)
	args := append(testInputs(true, false, 0), x264()...)
	ff := startFFmpeg(t, append(args, "-f", "rtsp", "-rtsp_transport", "tcp", rtspURL(rtsp, "main", testKey))...)
	rec.waitFor(t, "the publish", func(evs []stream.Event) bool { return count(evs, isStart) == 1 })

	// Two client sockets made before the descriptors run out, connected
	// after: the servers' side of each connection finds no descriptor.
	s1, s2 := rawSocket(t), rawSocket(t)
	var files []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		files = append(files, f)
	}
	rawConnect(t, s1, rtsp.Addr())
	rawConnect(t, s2, rtmp.Addr())
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(20 * time.Millisecond) {
		s := buf.String()
		if strings.Contains(s, "cannot accept RTSP connections") && strings.Contains(s, "cannot accept RTMP connections") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accept failure logged with the descriptors exhausted:\n%s", s)
		}
	}
	if !strings.Contains(buf.String(), "too many open files") {
		t.Fatalf("the accept failures are not EMFILE:\n%s", buf.String())
	}
	before := len(rec.snapshot())
	rec.waitFor(t, "units while accepting fails", func(evs []stream.Event) bool { return len(evs) > before+25 })

	for _, f := range files { // lowest first: accepted sockets get low numbers
		f.Close()
	}
	// Both connections that waited are served now.
	if _, err := syscall.Write(s1, []byte("OPTIONS rtsp://"+rtsp.Addr()+"/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 64)
	n, err := syscall.Read(s1, reply)
	if err != nil || !strings.HasPrefix(string(reply[:max(n, 0)]), "RTSP/1.0 200") {
		t.Fatalf("RTSP after the descriptors came back: %q, %v", reply[:max(n, 0)], err)
	}
	c0c1 := make([]byte, 1+1536)
	c0c1[0] = 3 // RTMP version 3, then C1: time, zero, random
	if _, err := syscall.Write(s2, c0c1); err != nil {
		t.Fatal(err)
	}
	if n, err := syscall.Read(s2, reply[:1]); err != nil || n != 1 || reply[0] != 3 {
		t.Fatalf("RTMP handshake after the descriptors came back: %x, %v", reply[:max(n, 0)], err)
	}

	select {
	case <-ff.done:
		t.Fatalf("the publisher was dropped: ffmpeg exited: %v\n%s", ff.err, ff.stderr.String())
	default:
	}
	evs := rec.snapshot()
	if n := count(evs, isEnd); n != 0 {
		t.Fatalf("the publish ended %d times while accepting failed", n)
	}
	t.Logf("child: the publisher streamed on (%d events); RTSP and RTMP accepted again once descriptors were free", len(evs))
}

// rawSocket makes a blocking TCP socket whose reads time out after
// waitLimit; it is connected later with rawConnect, which needs no new
// descriptor.
func rawSocket(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	tv := syscall.NsecToTimeval(int64(waitLimit))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

func rawConnect(t *testing.T, fd int, addr string) {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		t.Fatal(err)
	}
}
