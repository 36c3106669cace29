package deploy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/bench"
	"github.com/salon/salon/internal/natstest"
	"github.com/salon/salon/internal/testkit"
)

// BenchmarkNginx_viewers puts simulated players (salon-bench's) behind the
// shipped nginx configuration in front of three nodes, ffmpeg publishing to
// node A, and reports what reached the nodes: requests per segment, part
// and init segment (the design's bound: one per nginx cache), playlist
// requests per second, stalls, and the CPU of each process. It runs once
// whatever -benchtime says:
//
//	SALON_BENCH_VIEWERS=3000 SALON_BENCH_MODE=classic SALON_BENCH_DURATION=60s SALON_BENCH_BITRATE=1500k \
//	  go test -run '^$' -bench Nginx -benchtime 1x ./deploy
//
// Numbers go in docs/benchmarks.md, never in assertions.
func BenchmarkNginx_viewers(b *testing.B) {
	testkit.NeedTool(b, "nginx")
	n := envInt(b, "SALON_BENCH_VIEWERS", 3000)
	mode := envString("SALON_BENCH_MODE", bench.ModeClassic)
	dur := envDuration(b, "SALON_BENCH_DURATION", 60*time.Second)
	bitrate := envString("SALON_BENCH_BITRATE", "1500k") // the video's
	part := "0"
	if mode == bench.ModeLL {
		part = "200ms"
	}
	servers := natstest.Cluster(b, 3)
	nodes := startNodes(b, servers, 3, "-part", part, "-segment", "2s", "-http-max-conns", "20000", "-log-level", "warn")
	px := startNginx(b, nodes)
	// A clip encoded once, then looped with -c copy: no encoder shares
	// the CPU with what is measured.
	clip := filepath.Join(b.TempDir(), "clip.mp4")
	enc := testkit.StartFFmpeg(b, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=20",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=20",
		"-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60",
		"-c:a", "aac", "-b:a", "96k", clip)
	if err := enc.Wait(b, 5*time.Minute); err != nil {
		b.Fatalf("encode the clip: %v\n%s", err, enc.Stderr.String())
	}
	testkit.StartFFmpeg(b, "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy",
		"-f", "flv", "rtmp://"+nodes[0].rtmp+"/live/main?key="+publishKey)
	waitLive(b, px.url("/api/stages/main"))

	// SALON_BENCH_VIA=a (or b) sends the viewers to that node directly,
	// for comparison.
	target := px.url("/live/main/index.m3u8")
	switch via := envString("SALON_BENCH_VIA", "nginx"); via {
	case "nginx":
	case "a", "b":
		target = nodes[via[0]-'a'].url("/live/main/index.m3u8")
	default:
		b.Fatalf("SALON_BENCH_VIA=%q: nginx, a or b", via)
	}
	v := &bench.Viewers{URL: target, N: n, Mode: mode, Duration: dur, Ramp: dur / 3}
	if err := v.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	before := cpuTimes(b, nodes, px)
	start := time.Now()
	b.ResetTimer()
	res, err := v.Run(context.Background())
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	after := cpuTimes(b, nodes, px)

	counts := px.originCounts(b)
	if lines := px.logLinesOfRepeats(b, counts); lines != "" {
		fmt.Fprintf(os.Stderr, "objects nginx sent to the nodes more than once:\n%s\n", lines)
	}
	var segs, segReqs, parts, partReqs, playlistReqs, maxPer int
	for uri, c := range counts {
		switch {
		case strings.HasSuffix(uri, ".m3u8") || strings.Contains(uri, ".m3u8?"):
			playlistReqs += c
		case liveFile.MatchString(uri) && strings.Count(uri, ".") == 2:
			parts++
			partReqs += c
		case liveFile.MatchString(uri):
			segs++
			segReqs += c
		default:
			continue
		}
		if !strings.Contains(uri, ".m3u8") {
			maxPer = max(maxPer, c)
		}
	}
	var report bytes.Buffer
	res.WriteTable(&report)
	b.Logf("%d %s viewers of %s for %s:\n%s", n, mode, target, dur, report.String())
	b.Logf("reached the nodes: %d segments in %d requests, %d parts in %d requests (at most %d per object); %d playlist requests (%.1f/s)",
		segs, segReqs, parts, partReqs, maxPer, playlistReqs, float64(playlistReqs)/elapsed.Seconds())
	for name, t := range after {
		b.Logf("CPU %s: %.0f %% of one core", name, 100*(t-before[name])/elapsed.Seconds())
	}
	// What went wrong, if anything: nginx's errors, the nodes' warnings.
	fmt.Fprintf(os.Stderr, "nginx's errors:\n%s\n", errorKinds(px.log.String()))
	for _, nd := range nodes {
		fmt.Fprintf(os.Stderr, "%s's log:\n%s\n", nd.name, tail(nd.log.String(), 20))
	}
	b.ReportMetric(float64(segReqs)/float64(max(segs, 1)), "origin-req/segment")
	b.ReportMetric(float64(maxPer), "max-origin-req/object")
	b.ReportMetric(float64(res.Stalls), "stalls")
	b.ReportMetric(float64(res.ViewersPlaying), "playing")
}

// cpuTimes is each process's user+system CPU seconds so far.
func cpuTimes(b *testing.B, nodes []*node, px *proxy) map[string]float64 {
	out := map[string]float64{}
	for _, nd := range nodes {
		out[nd.name] = procCPU(b, nd.cmd.Process.Pid)
	}
	if px.pid != 0 {
		// The master and its workers.
		out["nginx"] = procCPU(b, px.pid) + childrenCPU(b, px.pid)
	}
	return out
}

// procCPU reads /proc/PID/stat: utime and stime, in seconds (USER_HZ 100).
func procCPU(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

func childrenCPU(b *testing.B, ppid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", ppid, ppid))
	if err != nil {
		return 0
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		if pid, err := strconv.Atoi(sc.Text()); err == nil {
			sum += procCPU(b, pid)
		}
	}
	return sum
}

func envString(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(b *testing.B, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a number of viewers", key, v)
	}
	return n
}

func envDuration(b *testing.B, key string, def time.Duration) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("%s=%q: want a duration like 60s", key, v)
	}
	return d
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// errorKinds counts nginx's error lines by what they say (the text between
// the connection number and ", client:").
func errorKinds(log string) string {
	kinds := map[string]int{}
	var order []string
	for _, l := range strings.Split(log, "\n") {
		i := strings.Index(l, "] ")
		if i < 0 {
			continue
		}
		k := l[i+2:]
		if j := strings.Index(k, ": "); j >= 0 && strings.HasPrefix(k, "*") {
			k = k[j+2:]
		}
		if j := strings.Index(k, ", client:"); j >= 0 {
			k = k[:j]
		}
		if kinds[k] == 0 {
			order = append(order, k)
		}
		kinds[k]++
	}
	var b strings.Builder
	for _, k := range order {
		fmt.Fprintf(&b, "%6d  %s\n", kinds[k], k)
	}
	return b.String()
}
