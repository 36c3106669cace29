package web

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/cluster/relay"
	"github.com/salon/salon/ingest/stream"
)

var _ relaySource = (*relay.Relay)(nil)

// fakeRelay is a stage "hall" that node-a ingests; "down" is a stage whose
// node does not answer. It records the fetches.
type fakeRelay struct {
	mu      sync.Mutex
	fetches []string
}

func (f *fakeRelay) Remote(stage string) bool { return stage == "hall" || stage == "down" }

func (f *fakeRelay) Fetch(ctx context.Context, stage, file, query string) (relay.Object, error) {
	f.mu.Lock()
	f.fetches = append(f.fetches, stage+"/"+file+"?"+query)
	f.mu.Unlock()
	switch {
	case stage == "down":
		return relay.Object{}, relay.ErrUnreachable
	case file == "9.m4s":
		return relay.Object{Status: 404, Body: []byte(`{"error":"no such segment"}`), ContentType: "application/json; charset=utf-8", CacheControl: "no-store"}, nil
	case strings.HasSuffix(file, ".m3u8"):
		return relay.Object{Status: 200, Body: []byte(testPlaylist), ContentType: "application/vnd.apple.mpegurl", CacheControl: "public, max-age=2"}, nil
	}
	return relay.Object{Status: 200, Body: []byte("SEGMENT of " + file), ContentType: "video/iso.segment", CacheControl: cacheImmutable}, nil
}

// A stage another node ingests is served as that node answers: body,
// content type, cache lifetime and errors; the request's other query
// arguments do not reach it; a node that does not answer is a 503 with
// Retry-After; a request from another node's relay is served locally.
func TestServer_relayedStage(t *testing.T) {
	live, _ := newFakes()
	stages := &fakeStages{stages: []stream.StageInfo{{Name: "main", Live: true}, {Name: "hall", Live: true, Node: "node-a"}, {Name: "down", Live: true, Node: "node-x"}}}
	fr := &fakeRelay{}
	reg := prometheus.NewRegistry()
	s := &Server{Address: "127.0.0.1:0", Live: live, Stages: stages, Relay: fr, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	base := "http://" + s.Addr()

	r := do(t, "GET", base+"/live/hall/index.m3u8?_HLS_part=2&_HLS_msn=7&player=x&_HLS_skip=v2", nil)
	if r.status != 200 || r.body != testPlaylist || r.header.Get("Cache-Control") != "public, max-age=2" ||
		r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("relayed playlist: %d %q %v", r.status, r.body, r.header)
	}
	r = do(t, "GET", base+"/live/hall/720p/7.2.m4s", map[string]string{"Range": "bytes=0-6"})
	if r.status != 206 || r.body != "SEGMENT" || r.header.Get("Cache-Control") != cacheImmutable {
		t.Errorf("relayed part with a range: %d %q %v", r.status, r.body, r.header)
	}
	r = do(t, "GET", base+"/live/hall/9.m4s", nil)
	if r.status != 404 || !strings.Contains(r.body, "no such segment") {
		t.Errorf("the owner's 404: %d %q", r.status, r.body)
	}
	r = do(t, "GET", base+"/live/down/index.m3u8", nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a node that does not answer: %d %v %q", r.status, r.header, r.body)
	}
	// Asked by another node: served from here (the stage is unknown here).
	r = do(t, "GET", base+"/live/hall/index.m3u8", map[string]string{relay.Header: "node-b"})
	if r.status != 404 {
		t.Errorf("a relayed request relayed again: %d %q", r.status, r.body)
	}
	r = do(t, "GET", base+"/live/main/7.m4s", nil)
	if r.status != 200 || r.body != "SEGMENT-7" {
		t.Errorf("a local stage: %d %q", r.status, r.body)
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	want := []string{"hall/index.m3u8?_HLS_msn=7&_HLS_part=2&_HLS_skip=YES", "hall/720p/7.2.m4s?", "hall/9.m4s?", "down/index.m3u8?"}
	if strings.Join(fr.fetches, " ") != strings.Join(want, " ") {
		t.Errorf("fetches %q, want %q", fr.fetches, want)
	}
}
