package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Attacks on the ingest ports (issue 13, findings 1, 2, 6 and 15), each
// against a real salon process while a real ffmpeg publisher streams.

// flood is a set of silent connections to one port, each watched by a
// goroutine that counts when salon closes it.
type flood struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed atomic.Int64
}

// startFlood opens n silent connections to addr: the first half from
// 127.0.0.1, the rest one each from 127.0.0.2 on, as a crowd would.
func startFlood(t *testing.T, addr string, n int) *flood {
	t.Helper()
	f := &flood{}
	t.Cleanup(f.close)
	for i := range n {
		src := "127.0.0.1"
		if i >= n/2 {
			src = fmt.Sprintf("127.0.%d.%d", 1+(i-n/2)/250, 2+(i-n/2)%250)
		}
		d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("flood connection %d from %s: %v", i, src, err)
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		go func() {
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					f.closed.Add(1)
					return
				}
			}
		}()
	}
	return f
}

func (f *flood) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}

// waitClosed waits until salon has closed every connection of the flood.
func (f *flood) waitClosed(t *testing.T, what string, within time.Duration) {
	t.Helper()
	n := int64(len(f.conns))
	for deadline := time.Now().Add(within); f.closed.Load() < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d silent connections still open after %s", what, n-f.closed.Load(), n, within)
		}
	}
}

// seconds limits an ffmpeg run; it goes before the output (ffmpegArgs puts
// its duration after the output, where ffmpeg ignores it).
func seconds(n int) []string { return []string{"-t", strconv.Itoa(n)} }

// waitLog waits until salon's log has a line with every one of parts.
func waitLog(t *testing.T, salon *publisher, parts ...string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if logLines(salon, parts...) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("salon never logged %q:\n%s", parts, salon.stderr.String())
		}
	}
}

// logLines counts salon's log lines that contain every one of parts.
func logLines(salon *publisher, parts ...string) int {
	n := 0
	for _, line := range strings.Split(salon.stderr.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// metricValue reads one sample of salon's /metrics, e.g.
// `salon_ingest_refused_total{protocol="rtsp",reason="wrong_key"}`.
func metricValue(t *testing.T, httpAddr, sample string) float64 {
	t.Helper()
	code, body, err := getQuiet("http://" + httpAddr + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", sample)
	return 0
}

// stopSalon sends SIGTERM and waits for a clean exit: open segments are
// finished and stored.
func stopSalon(t *testing.T, salon *publisher) {
	t.Helper()
	if err := salon.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := salon.wait(t, 60*time.Second); err != nil {
		t.Fatalf("salon exited with %v:\n%s", err, salon.stderr.String())
	}
}

// checkArchivedRun asserts that the stage's recording in the archive
// directory is one run whose segments are all there, numbered without a gap,
// and listed in the run's playlist: the publisher was never dropped and no
// segment was lost. It returns the number of segments.
func checkArchivedRun(t *testing.T, data, stage string) int {
	t.Helper()
	dir := filepath.Join(data, "archive", "stages", stage)
	runs, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("stage %s has %d runs in the archive, want 1 (the publisher was dropped?)", stage, len(runs))
	}
	files, err := os.ReadDir(filepath.Join(dir, runs[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	for _, f := range files {
		if s, ok := strings.CutSuffix(f.Name(), ".m4s"); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("unexpected segment name %s", f.Name())
			}
			seqs = append(seqs, n)
		}
	}
	sort.Ints(seqs)
	if len(seqs) == 0 {
		t.Fatalf("stage %s: no segment archived", stage)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("stage %s: segment %d is missing from the archive (have %d then %d)", stage, seqs[i-1]+1, seqs[i-1], seqs[i])
		}
	}
	pl, err := os.ReadFile(filepath.Join(dir, runs[0].Name(), "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(pl), "#EXTINF"); n != len(seqs) {
		t.Fatalf("the run's playlist lists %d segments, the archive holds %d:\n%s", n, len(seqs), pl)
	}
	if strings.Contains(string(pl), "#EXT-X-DISCONTINUITY\n") {
		t.Fatalf("the run's playlist has a discontinuity:\n%s", pl)
	}
	return len(seqs)
}

// TestIngestAttack_SilentFlood (findings 1 and 2): under an open-file limit
// of 256, 300 silent connections to each ingest port — half from one
// address, half from 150 others — used to make accept fail, end RTSP and
// RTMP ingest for good and drop the live publisher; and silent RTSP sockets
// stayed open for as long as the client liked. Now the budgets close the
// oldest waiting connections, the handshake timeout closes the rest,
// descriptors never run out, new publishers get in during the flood, and
// the live publisher's recording has every segment.
func TestIngestAttack_SilentFlood(t *testing.T) {
	needTools(t, "ffmpeg")
	data := t.TempDir()
	httpAddr, rtspAddr, rtmpAddr := freePort(t), freePort(t), freePort(t)
	salon := runSalonNofile(t, 256, httpAddr, nil, "-http", httpAddr, "-rtsp", rtspAddr, "-rtmp", rtmpAddr, "-data", data,
		"-publish-key", testKey, "-admin-token", "test-admin-token", "-segment", "1s", "-window", "10s")
	live := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtspOut(fmt.Sprintf("rtsp://%s/live/main?key=%s", rtspAddr, testKey)))...)
	waitSegmentsAt(t, httpAddr, "main", 2, time.Minute)

	rtspFlood := startFlood(t, rtspAddr, 300)
	rtmpFlood := startFlood(t, rtmpAddr, 300)
	// With the flood still open, new publishers get in on both ports.
	viaRTMP := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, seconds(3), rtmpOut(fmt.Sprintf("rtmp://%s/live/b?key=%s", rtmpAddr, testKey)))...)
	viaRTSP := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, seconds(3), rtspOut(fmt.Sprintf("rtsp://%s/live/c?key=%s", rtspAddr, testKey)))...)
	for _, p := range []*publisher{viaRTMP, viaRTSP} {
		if err := p.wait(t, 60*time.Second); err != nil {
			t.Fatalf("a publisher during the flood failed: %v\n%s\nsalon:\n%s", err, p.stderr.String(), salon.stderr.String())
		}
	}
	waitSegmentsAt(t, httpAddr, "b", 1, time.Minute)
	waitSegmentsAt(t, httpAddr, "c", 1, time.Minute)
	// Every silent connection is closed by salon: by the budgets at once,
	// or by the 10 s handshake timeout.
	rtspFlood.waitClosed(t, "RTSP", 60*time.Second)
	rtmpFlood.waitClosed(t, "RTMP", 60*time.Second)

	select {
	case <-live.done:
		t.Fatalf("the live publisher was dropped: %v\n%s", live.err, live.stderr.String())
	default:
	}
	if n := logLines(salon, "too many open files"); n > 0 {
		t.Errorf("salon ran out of descriptors (%d lines)", n)
	}
	if n := logLines(salon, "publisher left", "stage=main"); n > 0 {
		t.Fatalf("the live publisher was dropped:\n%s", salon.stderr.String())
	}
	closedBy := map[string]float64{}
	for _, proto := range []string{"rtsp", "rtmp"} {
		for _, reason := range []string{"addr_limit", "port_limit", "handshake_timeout", "fd_limit"} {
			closedBy[proto+" "+reason] = metricValue(t, httpAddr, fmt.Sprintf(`salon_ingest_refused_total{protocol="%s",reason="%s"}`, proto, reason))
		}
		if closedBy[proto+" addr_limit"] == 0 || closedBy[proto+" port_limit"] == 0 || closedBy[proto+" handshake_timeout"] == 0 {
			t.Errorf("%s: the limits did not all act on the flood: %v", proto, closedBy)
		}
	}
	t.Logf("connections closed by the limits: %v", closedBy)
	waitSegmentsAt(t, httpAddr, "main", 10, time.Minute)
	live.kill()
	waitLog(t, salon, "publisher left", "stage=main")
	stopSalon(t, salon)
	n := checkArchivedRun(t, data, "main")
	t.Logf("600 silent connections under a 256-descriptor limit: all closed by salon; 2 publishers got in meanwhile; the live publisher kept its stage, %d segments archived without a gap", n)
}

// TestIngestAttack_WrongKeys (finding 6): one address tries wrong publish
// keys as fast as it can. It used to get an answer and a WARN line per try
// (about 1,000 a second). Now, after 10 failures, that address is refused
// for a minute (the right key included, or the refusal would not stop
// guessing), its refusals are logged once per 30 s, and other addresses and
// the live publisher are unaffected.
func TestIngestAttack_WrongKeys(t *testing.T) {
	needTools(t, "ffmpeg")
	data := t.TempDir()
	httpAddr, rtspAddr := freePort(t), freePort(t)
	salon := runSalon(t, httpAddr, nil, "-http", httpAddr, "-rtsp", rtspAddr, "-rtmp", "", "-data", data,
		"-publish-key", testKey, "-admin-token", "test-admin-token", "-segment", "1s", "-window", "10s")
	live := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtspOut(fmt.Sprintf("rtsp://%s/live/main?key=%s", rtspAddr, testKey)))...)
	waitSegmentsAt(t, httpAddr, "main", 2, time.Minute)

	const tries = 300
	statuses := map[string]int{}
	began := time.Now()
	for range tries {
		statuses[announce(t, "127.0.0.2", rtspAddr, "main", "wrong-key-guess")]++
	}
	elapsed := time.Since(began)
	t.Logf("%d wrong keys from one address in %s: %v", tries, elapsed.Round(time.Millisecond), statuses)
	if statuses["401"] != 10 || statuses["403"] != tries-10 {
		t.Errorf("statuses %v: want 10 × 401 (wrong key), then 403 (refused for a while)", statuses)
	}
	if got := announce(t, "127.0.0.2", rtspAddr, "main", testKey); got != "403" {
		t.Errorf("the right key from the refused address: %s, want 403 until the minute is over", got)
	}
	if n := metricValue(t, httpAddr, `salon_ingest_refused_total{protocol="rtsp",reason="wrong_key"}`); n != 10 {
		t.Errorf("wrong_key counted %v, want 10", n)
	}
	if n := metricValue(t, httpAddr, `salon_ingest_refused_total{protocol="rtsp",reason="key_backoff"}`); n != tries-9 {
		t.Errorf("key_backoff counted %v, want %d", n, tries-9)
	}
	if got := announce(t, "127.0.0.3", rtspAddr, "b", testKey); got != "200" {
		t.Errorf("the right key from another address: %s, want 200", got)
	}
	if n := logLines(salon, "publish refused", "remote=127.0.0.2"); n == 0 || n > 2 {
		t.Errorf("%d log lines for %d refusals from one address, want 1 (at most one per 30 s):\n%s", n, tries+1, salon.stderr.String())
	}
	select {
	case <-live.done:
		t.Fatalf("the live publisher was dropped: %v", live.err)
	default:
	}
	if n := logLines(salon, "publisher left", "stage=main"); n > 0 {
		t.Fatalf("the live publisher was dropped:\n%s", salon.stderr.String())
	}
	live.kill()
	waitLog(t, salon, "publisher left", "stage=main")
	stopSalon(t, salon)
	checkArchivedRun(t, data, "main")
}

// sdpH264 is a minimal session description with one H.264 track.
const sdpH264 = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n"

// announce sends one RTSP ANNOUNCE from the loopback address src on a new
// connection and returns the status code of the answer ("" if none).
func announce(t *testing.T, src, addr, stage, key string) string {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("ANNOUNCE rtsp://%s/live/%s?key=%s RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		addr, stage, key, len(sdpH264), sdpH264)
	if _, err := c.Write([]byte(req)); err != nil {
		return ""
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	if m := regexp.MustCompile(`^RTSP/1\.0 (\d{3})`).FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}
