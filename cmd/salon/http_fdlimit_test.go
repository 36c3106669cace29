package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSalon_HTTPUnderFileLimit reproduces the exhaustion of issue 13
// (findings 1 and 2, the HTTP side) against a salon process limited to 256
// open files: 300 silent connections to the HTTP port used to take every
// file descriptor. Now HTTP keeps to half of the limit, answers the rest
// 503, and a publisher connecting meanwhile gets its stage live; the
// organiser gets through the reserve.
func TestSalon_HTTPUnderFileLimit(t *testing.T) {
	needTools(t, "ffmpeg", "prlimit")
	httpAddr, rtspAddr, data := freePort(t), freePort(t), t.TempDir()
	const admin = "test-admin-token"
	p := &publisher{stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command("prlimit", "--nofile=256:256", os.Args[0], "-http", httpAddr, "-rtsp", rtspAddr, "-rtmp", "",
		"-data", data, "-admin-token", admin, "-publish-key", testKey, "-segment", "1s", "-window", "10s")
	p.cmd.Env = append(os.Environ(), "SALON_TEST_MAIN=1")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	base := "http://" + httpAddr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _, _ := getQuiet(base + "/healthz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("salon did not start:\n%s", p.stderr.String())
		}
	}
	if !strings.Contains(p.stderr.String(), "http_max_conns=128") {
		t.Fatalf("no lowered HTTP budget in the log:\n%s", p.stderr.String())
	}

	// 300 silent connections from 20 addresses (15 each, under the
	// per-address cap): about 128 are held, the rest answered 503 at once.
	var mu sync.Mutex
	var held []net.Conn
	refused := 0
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 4, byte(1+i%20))}}).Dial("tcp", httpAddr)
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			b := make([]byte, 12)
			n, _ := io.ReadFull(c, b)
			mu.Lock()
			defer mu.Unlock()
			if string(b[:n]) == "HTTP/1.1 503" {
				refused++
				c.Close()
				return
			}
			held = append(held, c)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	t.Logf("300 silent connections: %d refused with 503, %d open", refused, len(held))
	if refused < 150 {
		t.Fatalf("only %d of 300 silent connections were refused; the budget is 128", refused)
	}

	// A publisher connecting now still finds file descriptors.
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtspOut(fmt.Sprintf("rtsp://%s/live/main?key=%s", rtspAddr, testKey)))...)

	// The organiser gets through the reserve (silent connections there are
	// closed after 2 s), and sees the stage live.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, m := apiURLQuiet(base+"/api/stages/main", admin)
		if code == 200 && m["live"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the organiser never saw the stage live: %d %v\n%s", code, m, p.stderr.String())
		}
	}
	waitLive(t, base, 3)
	if strings.Contains(p.stderr.String(), "too many open files") {
		t.Fatalf("salon ran out of files:\n%s", p.stderr.String())
	}
}

// apiURLQuiet GETs url with the admin token, without failing the test on a
// refused connection (code 0).
func apiURLQuiet(url, token string) (int, map[string]any) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}
