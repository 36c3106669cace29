package main

import (
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
)

// player reloads a stage's live playlist on n every 500 ms as viewer id,
// as hls.js does, until stop is called.
func player(t *testing.T, n *app, stage, id string) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			req, _ := http.NewRequest("GET", n.httpURL("/live/"+stage+"/index.m3u8"), nil)
			req.Header.Set("X-Salon-Viewer", id)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// waitNumber polls what of node n until it equals want.
func waitNumber(t *testing.T, n *app, what string, want float64, read func() any) {
	t.Helper()
	var got any
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = read(); got == want {
			return
		}
	}
	t.Fatalf("%s on %s: %v, want %v", what, n.cfg.Cluster.Node, got, want)
}

// Two salons over NATS: stage main is published on A (the built-in demo),
// two viewers watch it on A and one through B. /api/stages/main and
// /api/stats on either node show the three (this node's and the other's
// counts); /metrics stays this node's. When B stops, A's viewers are its
// own two again.
func TestCluster_viewersSummedAcrossNodes(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	archive := t.TempDir()
	node := func(name string, demo bool) (*app, func()) {
		cfg := defaultConfig()
		cfg.HTTP, cfg.RTSP, cfg.RTMP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		cfg.Data, cfg.Archive = t.TempDir(), archive
		cfg.PublishKey, cfg.AdminToken = testKey, "test-admin-token"
		cfg.SegmentDuration, cfg.Window = time.Second, 10*time.Second
		cfg.Cluster = ClusterConfig{NATS: servers.URLs(), Node: name}
		cfg.ChatSharedNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		cfg.Demo = demo
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return startNode(t, cfg)
	}
	a, _ := node("node-a", true)
	b, stopB := node("node-b", false)
	player(t, a, "main", "viewer-on-a-1")
	player(t, a, "main", "viewer-on-a-2")
	stopPlayerB := player(t, b, "main", "viewer-on-b")

	stageViewers := func(n *app) func() any {
		return func() any {
			_, m := api(t, n, "GET", "/api/stages/main", "")
			return m["viewers"]
		}
	}
	dayUnique := func(n *app) func() any {
		return func() any {
			_, m := api(t, n, "GET", "/api/stats", "")
			return m["live_viewers_unique"]
		}
	}
	for _, n := range []*app{a, b} {
		waitNumber(t, n, "viewers of main in /api/stages/main", 3, stageViewers(n))
		waitNumber(t, n, "unique live viewers of the day in /api/stats", 3, dayUnique(n))
	}
	if got := a.web.Viewers("main"); got != 2 {
		t.Errorf("node A's own viewers (its /metrics) = %d, want 2", got)
	}

	// B goes: its counts go with it.
	stopPlayerB()
	stopB()
	waitNumber(t, a, "viewers of main in /api/stages/main once B stopped", 2, stageViewers(a))
}
