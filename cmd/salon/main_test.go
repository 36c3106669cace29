package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this very binary as salon (SALON_TEST_MAIN=1), so the
// process-level contract (banner, signals, exit code) is tested without a build step.
func TestMain(m *testing.M) {
	if os.Getenv("SALON_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestRun_DemoBannerAndSIGTERM(t *testing.T) {
	httpAddr := freePort(t)
	data := t.TempDir()
	cmd := exec.Command(os.Args[0], "-demo", "-http", httpAddr, "-rtsp", freePort(t), "-rtmp", freePort(t), "-data", data)
	cmd.Env = append(os.Environ(), "SALON_TEST_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "admin token") {
				banner <- b.String()
			}
		}
	}()
	var text string
	select {
	case text = <-banner:
	case <-time.After(20 * time.Second):
		t.Fatalf("no banner; stderr:\n%s", stderr.String())
	}
	key, _ := os.ReadFile(data + "/publish-key")
	for _, want := range []string{"/live/main", "rtmp://", "rtsp://", "admin token", strings.TrimSpace(string(key))} {
		if !strings.Contains(text, want) {
			t.Fatalf("banner lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`stream key main\?key=\S+`).MatchString(text) {
		t.Fatalf("banner lacks the OBS stream key:\n%s", text)
	}

	// The demo stream is live: a playlist with segments appears.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body, _ := get(t, "http://"+httpAddr+"/live/main/index.m3u8")
		if code == 200 && strings.Contains(string(body), "#EXTINF") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo stream never produced a segment (last %d):\n%s", code, body)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// The last complete segment before SIGTERM: the one after it is open,
	// and SIGTERM must finish and store it.
	_, body, _ := get(t, "http://"+httpAddr+"/live/main/index.m3u8")
	lastLive := lastSegment(t, string(body))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("salon exited with %v after SIGTERM; want 0. stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("salon did not exit within 20 s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Fatalf("no shutdown log line:\n%s", stderr.String())
	}

	// The archive holds the run closed: every segment, numbered without a
	// gap and listed, up to and including the one open at SIGTERM, and the
	// run's playlist ended (VOD, EXT-X-ENDLIST).
	n := checkArchivedRun(t, data, "main")
	runs, _ := os.ReadDir(filepath.Join(data, "archive", "stages", "main"))
	pl, err := os.ReadFile(filepath.Join(data, "archive", "stages", "main", runs[0].Name(), "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pl), "\n#EXT-X-ENDLIST") {
		t.Fatalf("the run's playlist is not closed after SIGTERM:\n%s", pl)
	}
	if last := lastSegment(t, string(pl)); last <= lastLive {
		t.Fatalf("the archive ends at segment %d, the live playlist had %d complete before SIGTERM: the open segment was not finished:\n%s", last, lastLive, pl)
	}
	// The segments' durations add up to the media the run saw, each within
	// the 2 s target and the last one (cut short by SIGTERM) not empty.
	var total float64
	durs := regexp.MustCompile(`#EXTINF:([0-9.]+),`).FindAllStringSubmatch(string(pl), -1)
	for i, d := range durs {
		v, _ := strconv.ParseFloat(d[1], 64)
		if v <= 0 || v > 4 {
			t.Fatalf("segment %d of %d lasts %v s:\n%s", i, n, v, pl)
		}
		total += v
	}
	if total < float64(n-1) {
		t.Fatalf("%d segments add up to %.1f s:\n%s", n, total, pl)
	}
}

func TestRun_BadFlagExits2(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-http", "nonsense")
	cmd.Env = append(os.Environ(), "SALON_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want 2; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "-http") {
		t.Fatalf("the error does not name the flag:\n%s", out)
	}
}

func TestRun_PortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(os.Args[0], "-http", l.Addr().String(), "-rtsp", freePort(t), "-rtmp", freePort(t), "-data", t.TempDir())
	cmd.Env = append(os.Environ(), "SALON_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "-http") || !strings.Contains(string(out), l.Addr().String()) {
		t.Fatalf("the error does not say which address and flag:\n%s", out)
	}
}
