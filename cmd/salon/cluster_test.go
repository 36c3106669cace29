package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salon/salon/internal/natstest"
)

// clusterApps starts n salons that share one NATS cluster of three servers
// and one archive; the talk "opening" on stage main exists before they start
// (each node loads the library at start). Loopback is a shared network, so
// that the test's viewers, all on 127.0.0.1, count one by one.
func clusterApps(t *testing.T, servers *natstest.Nodes, n int) ([]*app, string) {
	t.Helper()
	archive := t.TempDir()
	var apps []*app
	for i := range n {
		a := clusterApp(t, servers, archive, fmt.Sprintf("node-%c", 'a'+i))
		if i == 0 {
			if code, m := api(t, a, "POST", "/api/talks", `{"id":"opening","title":"开幕","stage":"main"}`); code != 201 {
				t.Fatalf("create: %d %v", code, m)
			}
		}
		apps = append(apps, a)
	}
	return apps, archive
}

func clusterApp(t *testing.T, servers *natstest.Nodes, archive, name string) *app {
	t.Helper()
	return testApp(t, func(c *Config) {
		c.Archive = archive
		c.Cluster = ClusterConfig{NATS: servers.URLs(), Node: name}
		c.ChatSharedNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
}

// viewer is a chat websocket whose frames a goroutine collects.
type viewer struct {
	t       *testing.T
	name    string
	conn    *websocket.Conn
	mu      sync.Mutex
	frames  []map[string]any
	closed  bool
	changed chan struct{}
}

// dialViewer joins stage main's chat as name (dialStage).
func dialViewer(t *testing.T, a *app, name string) *viewer {
	t.Helper()
	return dialStage(t, a, "main", name)
}

// dialStage joins the chat of stage as name: it waits for the welcome and
// says hello with a viewer key of its own.
func dialStage(t *testing.T, a *app, stage, name string) *viewer {
	t.Helper()
	url := "ws://" + a.web.Addr() + "/ws/chat/" + stage
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	v := &viewer{t: t, name: name, conn: conn, changed: make(chan struct{})}
	t.Cleanup(func() { conn.Close() })
	go v.read()
	v.until("welcome", func(map[string]any) bool { return true })
	v.send(map[string]string{"type": "hello", "name": name, "viewer": "viewer-key-for-the-" + name})
	return v
}

func (v *viewer) read() {
	for {
		_, b, err := v.conn.ReadMessage()
		v.mu.Lock()
		if err != nil {
			v.closed = true
		} else {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			v.frames = append(v.frames, m)
		}
		close(v.changed)
		v.changed = make(chan struct{})
		v.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (v *viewer) send(m map[string]string) {
	v.t.Helper()
	if err := v.conn.WriteJSON(m); err != nil {
		v.t.Fatalf("%s: send %v: %v", v.name, m, err)
	}
}

// until waits for a frame of type typ that ok accepts, and returns it.
func (v *viewer) until(typ string, ok func(map[string]any) bool) map[string]any {
	v.t.Helper()
	return v.untilAny(typ+" frame", func(f map[string]any) bool { return f["type"] == typ && ok(f) })
}

// untilAny waits for a frame that ok accepts, and returns it.
func (v *viewer) untilAny(what string, ok func(map[string]any) bool) map[string]any {
	v.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		v.mu.Lock()
		for _, f := range v.frames {
			if ok(f) {
				v.mu.Unlock()
				return f
			}
		}
		closed, ch := v.closed, v.changed
		v.mu.Unlock()
		if closed {
			v.t.Fatalf("%s: connection closed while waiting for a %s; got %v", v.name, what, v.all())
		}
		select {
		case <-ch:
		case <-deadline:
			v.t.Fatalf("%s: no %s after 30 s; got %v", v.name, what, v.all())
		}
	}
}

func (v *viewer) all() []map[string]any {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]map[string]any(nil), v.frames...)
}

// chats are the texts of the chat frames received, in order.
func (v *viewer) chats() []string {
	var out []string
	for _, f := range v.all() {
		if f["type"] == "chat" {
			out = append(out, f["text"].(string))
		}
	}
	return out
}

func textIs(s string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["text"] == s }
}

func idIs(id any) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["id"] == id }
}

// Three salons share one chat over a NATS cluster: a talk started on C is
// announced on A and B and stamps their messages; a message sent on A
// reaches B and C in order; a question's votes from viewers on three nodes
// count together; a deletion and a ban made on A take effect on B and C;
// slow mode set on B holds on C; a node that starts later rebuilds the room
// from the stream (history without the deleted message, the ban).
func TestCluster_chatAcrossNodes(t *testing.T) {
	servers := natstest.Cluster(t, 3)
	apps, archive := clusterApps(t, servers, 3)
	a, b, c := apps[0], apps[1], apps[2]
	ada, bob, cy := dialViewer(t, a, "ada"), dialViewer(t, b, "bob"), dialViewer(t, c, "cy")

	// The talk started through C's API: viewers on A and B are told, and
	// messages sent anywhere are stamped with it (its chat archive has them).
	if code, m := api(t, c, "POST", "/api/talks/opening/start", ""); code != 200 {
		t.Fatalf("start on C: %d %v", code, m)
	}
	isOpening := func(f map[string]any) bool {
		talk, _ := f["talk"].(map[string]any)
		return talk != nil && talk["id"] == "opening"
	}
	ada.until("talk", isOpening)
	bob.until("talk", isOpening)

	for _, s := range []string{"你好", "one", "two"} {
		ada.send(map[string]string{"type": "chat", "text": s})
	}
	for _, v := range []*viewer{bob, cy} {
		if f := v.until("chat", textIs("two")); f["talk"] != "opening" {
			t.Errorf("%s: message from A stamped with talk %v, want opening", v.name, f["talk"])
		}
		if got := strings.Join(v.chats(), "|"); got != "你好|one|two" {
			t.Errorf("%s got %q, want 你好|one|two in order", v.name, got)
		}
	}

	// A question on B, voted for from A, B and C: three votes everywhere,
	// and a second vote by the same viewer counts nothing.
	bob.send(map[string]string{"type": "question", "text": "为什么用 NATS？"})
	q := cy.until("chat", textIs("为什么用 NATS？"))
	ada.until("chat", textIs("为什么用 NATS？")) // a viewer votes for what it has seen
	for _, v := range []*viewer{ada, bob, cy, ada} {
		v.send(map[string]string{"type": "vote", "id": q["id"].(string)})
	}
	for _, v := range []*viewer{ada, bob, cy} {
		v.until("votes", func(f map[string]any) bool { return f["id"] == q["id"] && f["count"] == 3.0 })
	}

	// A deletion on A reaches B and C.
	spam := bob.until("chat", textIs("one"))
	if code, m := api(t, a, "DELETE", "/api/stages/main/chat/messages/"+spam["id"].(string), ""); code != 204 {
		t.Fatalf("delete on A: %d %v", code, m)
	}
	bob.until("delete", idIs(spam["id"]))
	cy.until("delete", idIs(spam["id"]))

	// A troll on C is banned from A: disconnected on C, its message gone.
	troll := dialViewer(t, c, "troll")
	troll.send(map[string]string{"type": "chat", "text": "spam spam"})
	tm := ada.until("chat", textIs("spam spam"))
	if code, m := api(t, a, "POST", "/api/stages/main/chat/messages/"+tm["id"].(string)+"/ban?scope=viewer", ""); code != 204 {
		t.Fatalf("ban on A: %d %v", code, m)
	}
	troll.until("error", func(f map[string]any) bool { return f["code"] == "banned" })
	bob.until("delete", idIs(tm["id"]))

	// Slow mode set on B holds on C. The marker posted on B after it is
	// applied on C after it too (one order), so C has slow mode then.
	if code, m := api(t, b, "PUT", "/api/stages/main/chat/slow-mode", `{"seconds":60}`); code != 200 {
		t.Fatalf("slow mode on B: %d %v", code, m)
	}
	eve := dialViewer(t, b, "eve") // bob posted within the minute
	eve.send(map[string]string{"type": "chat", "text": "marker"})
	cy.until("chat", textIs("marker"))
	cy.send(map[string]string{"type": "chat", "text": "first under slow mode"})
	cy.until("chat", textIs("first under slow mode"))
	cy.send(map[string]string{"type": "chat", "text": "too soon"})
	if f := cy.until("error", func(map[string]any) bool { return true }); f["code"] != "rate_limited" || !strings.Contains(f["message"].(string), "slow mode") {
		t.Errorf("second message under slow mode on C: %v", f)
	}

	// A node that starts now rebuilds the room from the stream.
	d := clusterApp(t, servers, archive, "node-d")
	dan := dialViewer(t, d, "dan")
	var hist []string
	for _, h := range dan.all()[0]["history"].([]any) {
		hist = append(hist, h.(map[string]any)["text"].(string))
	}
	if got := strings.Join(hist, "|"); got != "你好|two|为什么用 NATS？|marker|first under slow mode" {
		t.Errorf("history on a new node = %q", got)
	}
	if qs := dan.all()[0]["questions"].([]any); len(qs) != 1 || qs[0].(map[string]any)["votes"] != 3.0 {
		t.Errorf("questions on a new node = %v, want the question with 3 votes", qs)
	}
	if !isOpening(dan.all()[0]) {
		t.Errorf("welcome on a new node: talk %v, want opening", dan.all()[0]["talk"])
	}
	back := dialViewer(t, d, "troll") // the troll's browser, on the new node
	back.until("error", func(f map[string]any) bool { return f["code"] == "banned" })
}

// A NATS server is killed while viewers on three nodes chat: every message
// its sender saw acknowledged (its own chat frame came back) reaches the
// viewers on the other nodes, and they all see one order.
func TestCluster_chatSurvivesAServerLoss(t *testing.T) {
	servers := natstest.Cluster(t, 3)
	apps, _ := clusterApps(t, servers, 3)
	watchers := []*viewer{dialViewer(t, apps[1], "watch-b"), dialViewer(t, apps[2], "watch-c")}

	const senders, each = 9, 3 // each connection's burst: no waiting on the rate limit
	var vs []*viewer
	for i := range senders {
		vs = append(vs, dialViewer(t, apps[i%3], fmt.Sprintf("s%d", i)))
	}
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for i, v := range vs {
		wg.Go(func() {
			for k := range each {
				text := fmt.Sprintf("s%d-%d", i, k)
				v.send(map[string]string{"type": "chat", "text": text})
				// Acknowledged: the sender's own frame came back; or refused
				// while the cluster elects a leader.
				f := v.untilAny("answer to "+text, func(f map[string]any) bool {
					return (f["type"] == "chat" && f["text"] == text) || f["type"] == "error"
				})
				if f["type"] == "chat" {
					mu.Lock()
					acked = append(acked, text)
					mu.Unlock()
				} else {
					t.Logf("%s: %v", text, f)
				}
			}
		})
		if i == senders/3 {
			servers.Kill(0)
		}
	}
	wg.Wait()
	if len(acked) < senders*each*2/3 {
		t.Fatalf("only %d of %d messages acknowledged with 2 of 3 servers up", len(acked), senders*each)
	}
	var orders []string
	for _, w := range watchers {
		for _, text := range acked {
			w.until("chat", textIs(text))
		}
		orders = append(orders, strings.Join(w.chats(), "|"))
	}
	if orders[0] != orders[1] {
		t.Errorf("two nodes saw different orders:\n%s\n%s", orders[0], orders[1])
	}
}

// Which node ingests a stage is known through NATS: while ffmpeg publishes
// stage main to node A, a second publisher to node B is refused; when A's
// publisher leaves, B takes the stage.
func TestCluster_secondPublisherRefusedOnEveryNode(t *testing.T) {
	needTools(t, "ffmpeg")
	servers := natstest.Cluster(t, 3)
	apps, _ := clusterApps(t, servers, 2)
	a, b := apps[0], apps[1]
	first := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtmpOut(a.rtmpURL("main", testKey)))...)
	waitSegments(t, a, "main", 1, 30*time.Second)

	second := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtmpOut(b.rtmpURL("main", testKey)))...)
	if err := second.wait(t, 30*time.Second); err == nil {
		t.Fatalf("a second publisher on node B was taken while node A ingests the stage:\n%s", second.stderr.String())
	}
	if b.reg.Live("main") {
		t.Fatal("node B has stage main live")
	}
	first.kill()
	// A's lease is released when its publish ends (a lost node's would
	// expire): B now takes the stage.
	third := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtmpOut(b.rtmpURL("main", testKey)))...)
	deadline := time.After(30 * time.Second)
	for !b.reg.Live("main") {
		select {
		case <-third.done:
			// Refused: A had not released the stage yet. Publishers retry.
			third = startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, encH264, rtmpOut(b.rtmpURL("main", testKey)))...)
		case <-b.reg.Changed():
		case <-deadline:
			t.Fatalf("node B did not take stage main after A's publisher left:\n%s", third.stderr.String())
		}
	}
}
