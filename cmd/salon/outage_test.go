package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/salon/salon/archive/storetest"
)

// counter sums a metric family of the app's registry for one stage.
func counter(t *testing.T, a *app, name string) float64 {
	t.Helper()
	mfs, err := a.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if mf.GetType() == dto.MetricType_COUNTER {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestArchive_BucketOutage: MinIO is down for 60 s in the middle of a talk.
// Live viewing never stops, and afterwards every segment the live segmenter
// produced is in the bucket, byte for byte, and in the talk's replay.
func TestArchive_BucketOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60 s outage: skipped with -short")
	}
	needTools(t, "ffmpeg")
	endpoint, key, secret, stopMinIO, startMinIO := storetest.MinIO(t)
	a := testApp(t, func(c *Config) {
		c.Archive = "s3:http://" + endpoint + "/outage"
		c.AWSAccessKey, c.AWSSecretKey = key, secret
	})
	pub := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"outage","title":"Through the outage","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := api(t, a, "POST", "/api/talks/outage/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	// The live segments the talk spans, from the live playlist itself: what
	// ffmpeg managed to send on a loaded machine, not the wall clock.
	_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
	startSeg := lastSegment(t, string(body))
	time.Sleep(3 * time.Second)

	stopMinIO()
	_, body, _ = get(t, a.httpURL("/live/main/index.m3u8"))
	last := lastSegment(t, string(body))
	outageFrom := last
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); {
		time.Sleep(5 * time.Second)
		_, body, _ := get(t, a.httpURL("/live/main/index.m3u8"))
		n := lastSegment(t, string(body))
		if n <= last {
			t.Fatalf("live playlist stopped at segment %d while the bucket is down", n)
		}
		last = n
	}
	// Every segment made during the outage waits in the spool (counted from
	// the live playlist: what the publisher managed, not 60 s of clock; the
	// newest may still be on its way to the recorder).
	if segs, _ := a.recorder.Pending(); segs < last-outageFrom-1 || last-outageFrom < 10 {
		t.Fatalf("%d segments waiting in the spool after the outage, which made %d", segs, last-outageFrom)
	}
	startMinIO()
	time.Sleep(3 * time.Second)
	_, body, _ = get(t, a.httpURL("/live/main/index.m3u8"))
	stopSeg := lastSegment(t, string(body))
	if code, m := api(t, a, "POST", "/api/talks/outage/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	pub.kill()
	// Wait until the segmenter itself has seen the end (it runs behind the
	// registry on its own goroutine) and handed its last segment over.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, ok := a.hls.Stats("main"); ok && !st.Live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the segmenter still sees the stage live after the publisher was killed")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := a.recorder.Flush(ctx); err != nil {
		t.Fatalf("recorder did not catch up after the outage: %v", err)
	}

	objs, err := a.store.List(ctx, "stages/main/")
	if err != nil {
		t.Fatal(err)
	}
	var count, bytes float64
	var seqs []int
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".m4s") {
			count++
			bytes += float64(o.Size)
			n, _ := strconv.Atoi(strings.TrimSuffix(o.Key[strings.LastIndex(o.Key, "/")+1:], ".m4s"))
			seqs = append(seqs, n)
		}
	}
	wantCount, wantBytes := counter(t, a, "salon_segments_total"), counter(t, a, "salon_segment_bytes_total")
	if count != wantCount || bytes != wantBytes {
		t.Fatalf("bucket holds %v segments / %v bytes; the segmenter produced %v / %v", count, bytes, wantCount, wantBytes)
	}
	sort.Ints(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("gap in the recording: segment %d follows %d", seqs[i], seqs[i-1])
		}
	}
	// The talk's replay runs through the outage without a gap.
	_, pl, _ := get(t, a.httpURL("/archive/talks/outage/index.m3u8"))
	ms := regexp.MustCompile(`/(\d+)\.m4s`).FindAllStringSubmatch(string(pl), -1)
	if len(ms) == 0 {
		t.Fatalf("the replay lists no segments:\n%s", pl)
	}
	// It spans every segment that was live while the talk ran: from the one
	// in progress at start to the last complete one before stop.
	if first, _ := strconv.Atoi(ms[0][1]); first > startSeg+1 {
		t.Fatalf("the replay starts at segment %d; segment %d was in progress at the talk's start:\n%s", first, startSeg+1, pl)
	}
	if last, _ := strconv.Atoi(ms[len(ms)-1][1]); last < stopSeg {
		t.Fatalf("the replay ends at segment %d; segment %d was live before the talk's stop:\n%s", last, stopSeg, pl)
	}
	for i := 1; i < len(ms); i++ {
		a, _ := strconv.Atoi(ms[i-1][1])
		b, _ := strconv.Atoi(ms[i][1])
		if b != a+1 {
			t.Fatalf("the replay skips from segment %d to %d", a, b)
		}
	}
	t.Logf("%v segments, %v bytes recorded through a 60 s bucket outage", count, bytes)
}

// TestArchive_KilledMidTalk: salon is killed with SIGKILL during a talk —
// while the bucket is down, so the last segments exist only in the spool —
// and started again on the same data directory: the talk's replay is complete
// up to the kill.
func TestArchive_KilledMidTalk(t *testing.T) {
	needTools(t, "ffmpeg")
	endpoint, key, secret, stopMinIO, startMinIO := storetest.MinIO(t)
	data := t.TempDir()
	httpAddr, rtspAddr := freePort(t), freePort(t)
	run := func() *publisher {
		t.Helper()
		return runSalon(t, httpAddr, []string{"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret},
			"-http", httpAddr, "-rtsp", rtspAddr, "-rtmp", "", "-data", data,
			"-archive", "s3:http://"+endpoint+"/crash", "-publish-key", testKey, "-admin-token", "test-admin-token",
			"-segment", "1s", "-window", "10s")
	}
	fakeURL := func(path string) string { return "http://" + httpAddr + path }
	call := func(method, path, body string) (int, map[string]any) {
		return apiURL(t, fakeURL(path), "test-admin-token", method, body)
	}

	salon := run()
	pubURL := fmt.Sprintf("rtsp://%s/live/main?key=%s", rtspAddr, testKey)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(pubURL))...)
	if code, m := call("POST", "/api/talks", `{"id":"crash","title":"Crash","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := call("POST", "/api/talks/crash/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	time.Sleep(6 * time.Second)
	stopMinIO()
	time.Sleep(5 * time.Second)
	_, body, _ := getQuiet(fakeURL("/live/main/index.m3u8"))
	lastBeforeKill := lastSegment(t, string(body))
	if err := salon.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-salon.done
	if n, _ := os.ReadDir(data + "/spool/stages/main"); len(n) == 0 {
		t.Fatal("nothing in the spool at the kill: the test would not exercise recovery")
	}
	startMinIO()

	run()
	var pl string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		_, b, _ := getQuiet(fakeURL("/archive/talks/crash/index.m3u8"))
		pl = string(b)
		ms := regexp.MustCompile(`/(\d+)\.m4s`).FindAllStringSubmatch(pl, -1)
		if len(ms) > 0 {
			if n, _ := strconv.Atoi(ms[len(ms)-1][1]); n >= lastBeforeKill {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the replay does not reach segment %d (listed at the kill):\n%s", lastBeforeKill, pl)
		}
	}
	ms := regexp.MustCompile(`/(\d+)\.m4s`).FindAllStringSubmatch(pl, -1)
	first, _ := strconv.Atoi(ms[0][1])
	for i := 1; i < len(ms); i++ {
		a, _ := strconv.Atoi(ms[i-1][1])
		b, _ := strconv.Atoi(ms[i][1])
		if b != a+1 && b > lastBeforeKill+1 {
			break // a new run after the restart may follow
		}
		if b != a+1 {
			t.Fatalf("the replay has a gap before the kill: %d then %d", a, b)
		}
	}
	t.Logf("replay after the restart: segments %d..%s, the kill came after %d", first, ms[len(ms)-1][1], lastBeforeKill)
	if lastBeforeKill-first < 7 {
		t.Fatalf("the replay starts at %d, the kill was at %d: most of the talk is missing", first, lastBeforeKill)
	}
}

// runSalon starts this test binary as salon (see TestMain) with args and the
// extra environment env, and waits until it answers /healthz on httpAddr.
// The process is killed when the test ends, if it has not exited.
func runSalon(t *testing.T, httpAddr string, env []string, args ...string) *publisher {
	t.Helper()
	return startSalonCmd(t, httpAddr, env, execSalon(t, args...))
}

// runSalonNofile is runSalon with the open-file limit of the salon process
// set to nofile (by prlimit(1), which execs salon in its own place), for the
// attacks that exhaust descriptors.
func runSalonNofile(t *testing.T, nofile int, httpAddr string, env []string, args ...string) *publisher {
	t.Helper()
	needTools(t, "prlimit")
	cmd := execSalon(t, args...)
	cmd.Args = append([]string{"prlimit", fmt.Sprintf("--nofile=%d:%d", nofile, nofile), "--", cmd.Path}, cmd.Args[1:]...)
	path, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Path = path
	return startSalonCmd(t, httpAddr, env, cmd)
}

func startSalonCmd(t *testing.T, httpAddr string, env []string, cmd *exec.Cmd) *publisher {
	t.Helper()
	p := &publisher{stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = cmd
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _, _ := getQuiet("http://" + httpAddr + "/healthz"); code == 200 {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("salon exited at start: %v\n%s", p.err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("salon did not start:\n%s", p.stderr.String())
		}
	}
}

// execSalon prepares this test binary to run as salon (see TestMain).
func execSalon(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SALON_TEST_MAIN=1")
	return cmd
}

// getQuiet is get without failing the test on a connection error.
func getQuiet(url string) (int, []byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
