package main

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/salon/salon/cluster"
	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/internal/natstest"
)

// ffmpeg publishes stage main to node A; node B lists it with A as its
// node, ffprobe reads it through B, and hlscheck drives B's blocking reloads
// and hinted parts (each answered when A has the part). Fifty viewers
// asking B for one segment at once make one request to A. A stage whose
// node does not answer is a 503 with Retry-After on B, at once.
func TestCluster_liveFromAnyNode(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	archive := t.TempDir()
	a := testApp(t, lowLatency, clusterNode(servers, archive, "node-a"))
	b := testApp(t, lowLatency, clusterNode(servers, archive, "node-b"))
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtmpOut(a.rtmpURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 30*time.Second)

	// B lists the stage as live on A, and serves it.
	var stages []map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body, _ := get(t, b.httpURL("/api/stages"))
		if err := json.Unmarshal(body, &stages); err != nil {
			t.Fatal(err)
		}
		if len(stages) == 1 && stages[0]["name"] == "main" && stages[0]["live"] == true && stages[0]["node"] == "node-a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's /api/stages = %s, want main live on node-a", body)
		}
	}
	if _, home, _ := get(t, b.httpURL("/")); !strings.Contains(string(home), `href="/live/main"`) {
		t.Errorf("B's home page does not link the live stage main")
	}
	if got := codecsOf(ffprobe(t, b.httpURL("/live/main/index.m3u8"))); got != "h264,aac" {
		t.Fatalf("ffprobe through B: codecs %s, want h264,aac", got)
	}

	u, _ := url.Parse(b.httpURL("/live/main/index.m3u8"))
	chk := &hlscheck.Blocking{URL: u}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for chk.Blocked < 15 || chk.PartsFetched < 15 || chk.Refusals < 2 || chk.Joined < 2 || chk.Deltas < 1 {
		if err := chk.Step(ctx); err != nil {
			t.Fatalf("LL-HLS through B, after %+v: %v", *chk, err)
		}
	}
	t.Logf("through B: %d blocking reloads, %d hinted parts, %d delta updates, %d refusals, %d segments = parts joined",
		chk.Blocked, chk.PartsFetched, chk.Deltas, chk.Refusals, chk.Joined)

	// A segment finished after the checker stopped, so nobody fetched it
	// through B yet: fifty viewers at once.
	waitMoreSegments(t, a, "main", 1)
	_, pl, _ := get(t, a.httpURL("/live/main/index.m3u8"))
	seg := lastSegmentURI(t, string(pl))
	before := counter(t, b, "salon_relay_fetches_total")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if code, _, _ := getQuiet(b.httpURL("/live/main/" + seg)); code != 200 {
				t.Errorf("segment %s through B: %d", seg, code)
			}
		})
	}
	wg.Wait()
	if n := counter(t, b, "salon_relay_fetches_total") - before; n != 1 {
		t.Errorf("50 viewers of segment %s on B made %v requests to A, want 1", seg, n)
	}

	// A lease whose node is gone (a closed port): 503 and Retry-After, fast.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	putLease(t, servers, "ghost", cluster.Owner{Node: "node-x", URL: dead, Since: time.Now()})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _, _ := getQuiet(b.httpURL("/api/stages/ghost")); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B does not list stage ghost 10 s after its lease was written")
		}
	}
	start := time.Now()
	code, body, h := get(t, b.httpURL("/live/ghost/index.m3u8"))
	if code != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "another node") {
		t.Errorf("playlist of a stage whose node is gone: %d Retry-After %q %s", code, h.Get("Retry-After"), body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the 503 took %v", d)
	}
}

// clusterNode makes a test app a node of servers' cluster sharing archive.
func clusterNode(servers *natstest.Nodes, archive, name string) func(*Config) {
	return func(c *Config) {
		c.Archive = archive
		c.Cluster = ClusterConfig{NATS: servers.URLs(), Node: name}
	}
}

// putLease writes a stage's lease as a node would.
func putLease(t *testing.T, servers *natstest.Nodes, stage string, o cluster.Owner) {
	t.Helper()
	nc, err := nats.Connect(servers.URLs())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, cluster.IngestBucket)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := json.Marshal(o)
	if _, err := kv.Put(ctx, stage, v); err != nil {
		t.Fatal(err)
	}
}

// lastSegmentURI is the URI of the playlist's newest full segment.
func lastSegmentURI(t *testing.T, pl string) string {
	t.Helper()
	var last string
	lines := strings.Split(pl, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#EXTINF") && i+1 < len(lines) {
			last = strings.TrimSpace(lines[i+1])
		}
	}
	if last == "" {
		t.Fatalf("no segment in\n%s", pl)
	}
	return last
}
