package deploy

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/salon/salon/bench"
	"github.com/salon/salon/internal/natstest"
	"github.com/salon/salon/internal/testkit"
	"github.com/salon/salon/web/webtest"
)

// liveFile is a segment, part or init segment of a live stage.
var liveFile = regexp.MustCompile(`^/live/[a-z0-9-]+/(?:[a-z0-9-]+/)?(?:init-\d+\.mp4|\d+(?:\.\d+)?\.m4s)$`)

// Three salon nodes on a NATS cluster with the shipped nginx configuration
// in front: ffmpeg publishes to node A; ffprobe and hls.js in Chromium read
// the stage through nginx and through node B; a chat message sent through
// nginx reaches a viewer on node C; thirty low-latency players through nginx
// play without errors, and nginx sent each segment, part and init segment
// to the nodes at most once (one cache, proxy_cache_lock).
func TestNginx_threeNodes(t *testing.T) {
	testkit.NeedTool(t, "nginx")
	testkit.NeedTool(t, "ffprobe")
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	nodes := startNodes(t, servers, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	px := startNginx(t, nodes)

	testkit.StartFFmpeg(t, "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", "-bf", "2",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", "rtmp://"+a.rtmp+"/live/main?key="+publishKey)
	for _, u := range []string{px.url("/api/stages/main"), b.url("/api/stages/main"), c.url("/api/stages/main")} {
		waitLive(t, u)
	}

	for _, u := range []string{px.url("/live/main/index.m3u8"), b.url("/live/main/index.m3u8")} {
		if got := probe(t, u); got != "h264,aac" {
			t.Fatalf("ffprobe %s: codecs %q, want h264,aac", u, got)
		}
	}

	// The chat through nginx's websocket proxying reaches a viewer on C.
	onC := dialChat(t, "ws://"+c.http+"/ws/chat/main")
	viaNginx := dialChat(t, "ws://"+px.addr+"/ws/chat/main")
	if err := viaNginx.WriteJSON(map[string]string{"type": "chat", "text": "hello through nginx"}); err != nil {
		t.Fatal(err)
	}
	waitChat(t, onC, "hello through nginx")

	// hls.js, low latency, through nginx and through B.
	ctx := webtest.Browser(t)
	for _, page := range []string{px.url("/live/main"), b.url("/live/main")} {
		playsLive(t, ctx, page)
	}

	// Thirty LL players through nginx.
	v := &bench.Viewers{URL: px.url("/live/main/index.m3u8"), N: 30, Mode: bench.ModeLL, Hints: true, Duration: 15 * time.Second, Ramp: 3 * time.Second}
	if err := v.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	res, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("30 LL players through nginx: %d segments, %d parts (%d hinted), %d playlists, %d stalls, %d errors %v",
		res.Segments, res.Parts, res.HintedParts, res.Playlists, res.Stalls, res.ErrorCount, res.Errors)
	if res.ViewersPlaying != 30 || res.ErrorCount != 0 {
		t.Errorf("through nginx: %d of 30 players played, %d errors %v", res.ViewersPlaying, res.ErrorCount, res.Errors)
	}

	// What reached the nodes: every immutable file at most once.
	counts := px.originCounts(t)
	var files, requests int
	for uri, n := range counts {
		if !liveFile.MatchString(uri) {
			continue
		}
		files++
		requests += n
		if n > 1 {
			t.Errorf("nginx sent %s to the nodes %d times, want at most once (one cache, proxy_cache_lock)", uri, n)
		}
	}
	if files < 20 {
		t.Errorf("only %d live files went through nginx's cache: did the players play through it?", files)
	}
	t.Logf("nginx sent %d requests to the nodes for %d distinct segments, parts and init segments", requests, files)
}

// waitLive waits until the stage API at u says the stage is live.
func waitLive(t testing.TB, u string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if code, body := httpGet(u); code == 200 {
			var st struct {
				Live bool   `json:"live"`
				Node string `json:"node"`
			}
			if json.Unmarshal(body, &st) == nil && st.Live && st.Node == "node-a" {
				return
			}
			last = string(body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: the stage is not live on node-a after 60 s: %s", u, last)
}

func probe(t *testing.T, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "json", u).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", u, err)
	}
	var res struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", u, err, out)
	}
	var names []string
	for _, s := range res.Streams {
		names = append(names, s.CodecName)
	}
	return strings.Join(names, ",")
}

func dialChat(t *testing.T, u string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitChat reads frames until a chat message with text arrives.
func waitChat(t *testing.T, conn *websocket.Conn, text string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var f map[string]any
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for chat message %q: %v", text, err)
		}
		if f["type"] == "chat" && f["text"] == text {
			return
		}
	}
}

// playsLive opens the live page and waits for hls.js to play in its
// low-latency mode (parts loaded) and advance 3 s, and for the chat.
func playsLive(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({t: document.getElementById('video').currentTime,
				rs: document.getElementById('video').readyState, edge: document.getElementById('live-edge').dataset})`))
			t.Fatalf("%s: waiting for %s: %v; page %s", page, what, err, state)
		}
	}
	poll("playback to start", `document.getElementById('video').currentTime > 0`)
	start, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('video').currentTime`))
	if err != nil {
		t.Fatal(err)
	}
	poll("3 s of playback", `document.getElementById('video').currentTime > `+strconv.FormatFloat(start+3, 'f', 3, 64))
	poll("hls.js to load parts", `Number(document.getElementById('live-edge').dataset.parts) >= 5`)
	// The page's chat (a websocket through the same address) has the
	// message sent through nginx in its history.
	poll("the chat's history", `document.getElementById('chat-log').textContent.includes('hello through nginx')`)
}
