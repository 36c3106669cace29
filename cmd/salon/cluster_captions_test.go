package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/internal/natstest"
)

// startNode starts a salon with cfg, to be stopped (and started again with
// the same cfg: a restart) by the test; stop is also called at cleanup.
func startNode(t *testing.T, cfg Config) (*app, func()) {
	t.Helper()
	logw := &testLogWriter{t: t}
	a, err := startApp(cfg, slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { a.Close(); logw.stop() }) }
	t.Cleanup(stop)
	return a, stop
}

// liveCues reads GET /api/stages/{stage}/captions?since= on a node: the
// cues as "lang start text", in the order the API lists them.
func liveCues(t *testing.T, a *app, stage string, since time.Time) []string {
	t.Helper()
	code, m := api(t, a, "GET", "/api/stages/"+stage+"/captions?since="+since.UTC().Format(time.RFC3339Nano), "")
	if code != 200 {
		t.Fatalf("GET live cues on %s: %d %v", a.cfg.Cluster.Node, code, m)
	}
	var out []string
	for _, c := range m["cues"].([]any) {
		c := c.(map[string]any)
		out = append(out, fmt.Sprintf("%v %v %v", c["lang"], c["start"], c["text"]))
	}
	return out
}

// Live cues posted on two salons of a cluster are served by every node,
// the same cues in the same order with the same times, without duplicates;
// a node that restarts (and one that starts later) serves them all as
// soon as it is up, those posted while it was down included.
func TestCluster_liveCaptionsAcrossNodes(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	apps, _ := clusterApps(t, servers, 2)
	a, b := apps[0], apps[1]
	cfgC := a.cfg
	cfgC.Data, cfgC.Cluster.Node = t.TempDir(), "node-c"
	c, stopC := startNode(t, cfgC)
	since := time.Now().Add(-time.Minute)

	post := func(n *app, lang, text string) map[string]any {
		t.Helper()
		code, m := api(t, n, "POST", "/api/stages/main/captions", fmt.Sprintf(`{"lang":%q,"text":%q}`, lang, text))
		if code != 201 {
			t.Fatalf("post %q on %s: %d %v", text, n.cfg.Cluster.Node, code, m)
		}
		return m
	}
	post(a, "en", "one")
	post(b, "en", "two")
	post(a, "zh-CN", "三")
	four := post(b, "en", "four")
	catchUp := func(n *app) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.captions.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*app{a, b, c} {
		catchUp(n)
	}
	want := liveCues(t, a, "main", since)
	texts := func(cues []string) string {
		var s []string
		for _, c := range cues {
			f := strings.Fields(c)
			s = append(s, f[0]+" "+f[len(f)-1])
		}
		return strings.Join(s, "|")
	}
	if got := texts(want); got != "en one|en two|en four|zh-CN 三" {
		t.Fatalf("cues on A: %q", want)
	}
	if !strings.Contains(want[2], four["at"].(string)) {
		t.Errorf("B answered its cue at %v; A lists %q", four["at"], want[2])
	}
	for _, n := range []*app{b, c} {
		if got := liveCues(t, n, "main", since); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("cues on %s:\n%s\nwant (as on A):\n%s", n.cfg.Cluster.Node, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	// C restarts; a cue is posted on A while it is down. Once C is up it
	// serves them all, and so does a node that starts now.
	stopC()
	post(a, "en", "five")
	c, _ = startNode(t, cfgC)
	cfgD := cfgC
	cfgD.Data, cfgD.Cluster.Node = t.TempDir(), "node-d"
	d, _ := startNode(t, cfgD)
	catchUp(a)
	want = liveCues(t, a, "main", since)
	if got := texts(want); got != "en one|en two|en four|en five|zh-CN 三" {
		t.Fatalf("cues on A after five: %q", want)
	}
	for _, n := range []*app{c, d} {
		if got := liveCues(t, n, "main", since); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("cues on %s once up:\n%s\nwant:\n%s", n.cfg.Cluster.Node, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// A talk captioned from two nodes: ffmpeg publishes to A, the talk starts
// on A, cues are posted on A and on B, and the talk is stopped on B, whose
// end-of-talk job archives the captions: the archived track holds the cues
// of both nodes, in order.
func TestCluster_liveCaptionsArchivedFromEveryNode(t *testing.T) {
	needTools(t, "ffmpeg")
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	apps, _ := clusterApps(t, servers, 2)
	a, b := apps[0], apps[1]
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 2, 60*time.Second)
	if code, m := api(t, a, "POST", "/api/talks/opening/start", ""); code != 200 {
		t.Fatalf("start on A: %d %v", code, m)
	}
	waitMoreSegments(t, a, "main/source", 1)
	for i, n := range []*app{a, b, a, b} {
		text := fmt.Sprintf("cue %d from %s", i, n.cfg.Cluster.Node)
		if code, m := api(t, n, "POST", "/api/stages/main/captions", fmt.Sprintf(`{"lang":"en","text":%q}`, text)); code != 201 {
			t.Fatalf("post %q: %d %v", text, code, m)
		}
	}
	waitMoreSegments(t, a, "main/source", 3)
	// B relays A's stage: its subtitle rendition too, which follows the
	// video B relays and carries the cues (ffprobe reads both through B).
	code, subBody, _ := get(t, b.httpURL("/live/main/captions/en/index.m3u8"))
	_, srcBody, _ := get(t, b.httpURL("/live/main/source/index.m3u8"))
	subs, serr := hlscheck.CheckMediaPlaylist(subBody)
	video, verr := hlscheck.CheckMediaPlaylist(srcBody)
	if code != 200 || serr != nil || verr != nil {
		t.Fatalf("subtitle playlist through B: %d %v %v\n%s", code, serr, verr, subBody)
	}
	if err := hlscheck.CheckSubtitles(video, subs); err != nil {
		t.Errorf("the subtitle playlist relayed by B does not follow B's video playlist: %v", err)
	}
	var relayed strings.Builder
	for _, seg := range subs.Segments {
		_, body, _ := get(t, b.httpURL("/live/main/captions/en/"+seg.URI))
		relayed.Write(body)
	}
	if !strings.Contains(relayed.String(), "cue 1 from node-b") {
		t.Errorf("the subtitle segments relayed by B lack the cue posted on B:\n%s", relayed.String())
	}
	if out := probeSubtitles(t, b.httpURL("/live/main/index.m3u8")); !strings.Contains(out, "codec_name=webvtt") {
		t.Errorf("ffprobe of the stage through B lists no webvtt stream:\n%s", out)
	}
	waitTalk(t, b, "started on A", "opening", func(tk archive.Talk, _ error) bool { return tk.Live() })
	if code, m := api(t, b, "POST", "/api/talks/opening/stop", ""); code != 200 {
		t.Fatalf("stop on B: %d %v", code, m)
	}
	en := string(waitArchived(t, b.httpURL("/archive/talks/opening/captions/en.vtt"), 60*time.Second))
	last := -1
	for i, n := range []string{"node-a", "node-b", "node-a", "node-b"} {
		at := strings.Index(en, fmt.Sprintf("cue %d from %s", i, n))
		if at <= last {
			t.Fatalf("archived en.vtt lacks cue %d from %s, or has it out of order:\n%s", i, n, en)
		}
		last = at
	}
}
