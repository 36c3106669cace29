package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsRead reads frames until one of type typ arrives.
func wsRead(t *testing.T, c *websocket.Conn, typ string) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for a %q frame: %v", typ, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		if m["type"] == typ {
			return m
		}
	}
}

// TestChat_ThroughSalon: the stage's chat through the real server, stamped
// with the talk the organiser started, and told when it changes.
func TestChat_ThroughSalon(t *testing.T) {
	a := testApp(t)
	url := "ws://" + a.web.Addr() + "/ws/chat/main"
	dial := func() *websocket.Conn {
		c, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %s: %v (%v)", url, err, resp)
		}
		t.Cleanup(func() { c.Close() })
		wsRead(t, c, "welcome")
		return c
	}
	// A stage gets a chat room once it is live or has talks.
	if _, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("chat of a stage with no talks, not live: %v %v", err, resp)
	}
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"opening","title":"Opening","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	ada, bob := dial(), dial()
	if code, m := api(t, a, "POST", "/api/talks/opening/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	if talk := wsRead(t, bob, "talk"); !strings.Contains(mustJSON(talk["talk"]), `"id":"opening"`) {
		t.Fatalf("talk frame %v", talk)
	}
	ada.WriteJSON(map[string]string{"type": "hello", "name": "Ada"})
	ada.WriteJSON(map[string]string{"type": "chat", "text": "<img src=x onerror=alert(1)> hello"})
	msg := wsRead(t, bob, "chat")
	if msg["name"] != "Ada" || msg["text"] != "<img src=x onerror=alert(1)> hello" || msg["talk"] != "opening" {
		t.Fatalf("chat frame %v", msg)
	}
	if _, err := time.Parse(time.RFC3339, msg["ts"].(string)); err != nil {
		t.Fatalf("ts %v", msg["ts"])
	}
	// A third viewer gets the history.
	carol, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Close()
	welcome := wsRead(t, carol, "welcome")
	if h, _ := welcome["history"].([]any); len(h) != 1 {
		t.Fatalf("history %v", welcome["history"])
	}
	// Moderation through the API: delete a message, slow mode, ban its author.
	if code, m := api(t, a, "DELETE", "/api/stages/main/chat/messages/"+msg["id"].(string), ""); code != 204 {
		t.Fatalf("delete: %d %v", code, m)
	}
	if del := wsRead(t, bob, "delete"); del["id"] != msg["id"] {
		t.Fatalf("delete frame %v", del)
	}
	if code, _ := api(t, a, "PUT", "/api/stages/main/chat/slow-mode", `{"seconds":-1}`); code != 400 {
		t.Fatalf("bad slow mode: %d", code)
	}
	if code, m := api(t, a, "PUT", "/api/stages/main/chat/slow-mode", `{"seconds":0}`); code != 200 {
		t.Fatalf("slow mode: %d %v", code, m)
	}
	time.Sleep(1500 * time.Millisecond) // let Ada's rate limit refill
	ada.WriteJSON(map[string]string{"type": "chat", "text": "spam"})
	spam := wsRead(t, bob, "chat")
	// Everyone here shares 127.0.0.1, as a venue shares its NAT: ban Ada's
	// connection and browser, not the address.
	if code, m := api(t, a, "POST", "/api/stages/main/chat/messages/"+spam["id"].(string)+"/ban?scope=viewer", ""); code != 204 {
		t.Fatalf("ban: %d %v", code, m)
	}
	if e := wsRead(t, ada, "error"); e["code"] != "banned" {
		t.Fatalf("banned client got %v", e)
	}
	if code, _ := api(t, a, "POST", "/api/stages/main/chat/messages/"+spam["id"].(string)+"/ban?scope=planet", ""); code != 400 {
		t.Fatalf("ban with a bad scope: %d", code)
	}
	// Bob, on the same address, still chats; a formula stays text in CSV.
	bob.WriteJSON(map[string]string{"type": "question", "text": "=HYPERLINK(\"http://x\")"})
	q := wsRead(t, bob, "chat")
	if code, m := api(t, a, "POST", "/api/stages/main/chat/messages/"+q["id"].(string)+"/answered", ""); code != 204 {
		t.Fatalf("answered: %d %v", code, m)
	}
	if f := wsRead(t, bob, "answered"); f["id"] != q["id"] {
		t.Fatalf("answered frame %v", f)
	}
	if code, _ := apiURL(t, a.httpURL("/api/stages/main/chat/messages/nope"), "wrong-token", "DELETE", ""); code != 401 {
		t.Fatalf("delete without the admin token: %d", code)
	}

	// Stopping the talk archives its chat, deleted messages marked.
	if code, m := api(t, a, "POST", "/api/talks/opening/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	jsonl := waitArchived(t, a.httpURL("/archive/talks/opening/chat.jsonl"), 30*time.Second)
	lines := strings.Split(strings.TrimSpace(string(jsonl)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"deleted":true`) || strings.Contains(string(jsonl), `"client"`) ||
		!strings.Contains(lines[2], `"answered":true`) {
		t.Fatalf("chat.jsonl:\n%s", jsonl)
	}

	// The organiser's export: every message, deleted ones marked, each
	// placed on the replay's timeline.
	code, export := api(t, a, "GET", "/api/talks/opening/chat", "")
	msgs, _ := export["messages"].([]any)
	if code != 200 || len(msgs) != 3 {
		t.Fatalf("export: %d %v", code, export)
	}
	for _, m := range msgs {
		if at, ok := m.(map[string]any)["at"].(float64); !ok || at < 0 {
			t.Fatalf("exported message without a media time: %v", m)
		}
	}
	if code, _ := apiURL(t, a.httpURL("/api/talks/opening/chat"), "", "GET", ""); code != 401 {
		t.Fatalf("export without the admin token: %d", code)
	}
	if code, _ := api(t, a, "GET", "/api/talks/opening/chat?format=xml", ""); code != 400 {
		t.Fatalf("export as xml: %d", code)
	}
	csvBody := getAdmin(t, a, "/api/talks/opening/chat?format=csv")
	rows, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][4] != "text" || rows[1][8] != "true" || rows[3][4] != `'=HYPERLINK("http://x")` {
		t.Fatalf("csv export (%v):\n%s", err, csvBody)
	}
	// The replay page's feed: public, deleted messages (both of Ada's: a ban
	// deletes the message it points at) left out.
	_, replay, _ := get(t, a.httpURL("/talks/opening/chat.json"))
	var feed struct {
		Final    bool             `json:"final"`
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(replay, &feed); err != nil || !feed.Final || len(feed.Messages) != 1 || strings.Contains(string(replay), "deleted") {
		t.Fatalf("chat.json (%v): %s", err, replay)
	}

	// A page from another site may not open the chat; one from this host may.
	hdr := http.Header{"Origin": {"http://evil.example"}}
	if _, resp, err := websocket.DefaultDialer.Dial(url, hdr); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	hdr.Set("Origin", "http://"+a.web.Addr())
	own, _, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		t.Fatalf("own origin refused: %v", err)
	}
	own.Close()

	// Bad stage names are refused before any upgrade.
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/Main", nil); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("bad stage: %v %v", err, resp)
	}
}

// getAdmin fetches a non-JSON body as the organiser.
func getAdmin(t *testing.T, a *app, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", a.httpURL(path), nil)
	req.Header.Set("Authorization", "Bearer "+a.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestChat_KilledMidTalk: salon is killed with SIGKILL while the audience
// chats during a talk, then started again on the same data directory. When
// the organiser stops the talk, its chat.jsonl holds every message the room
// saw up to one second before the kill.
func TestChat_KilledMidTalk(t *testing.T) {
	data := t.TempDir()
	httpAddr := freePort(t)
	run := func() *publisher {
		t.Helper()
		return runSalon(t, httpAddr, nil, "-http", httpAddr, "-rtsp", "", "-rtmp", "", "-data", data, "-admin-token", "test-admin-token")
	}
	call := func(method, path, body string) (int, map[string]any) {
		return apiURL(t, "http://"+httpAddr+path, "test-admin-token", method, body)
	}

	salon := run()
	if code, m := call("POST", "/api/talks", `{"id":"crash","title":"Crash","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := call("POST", "/api/talks/crash/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws/chat/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	wsRead(t, ws, "welcome")
	// Each message is acknowledged by its broadcast; one every 700 ms stays
	// inside the per-address rate limit.
	acked := map[string]time.Time{}
	for i := range 8 {
		text := fmt.Sprintf("message %d", i)
		if err := ws.WriteJSON(map[string]string{"type": "chat", "text": text}); err != nil {
			t.Fatal(err)
		}
		if m := wsRead(t, ws, "chat"); m["text"] != text {
			t.Fatalf("broadcast %v, want %q", m, text)
		}
		acked[text] = time.Now()
		time.Sleep(700 * time.Millisecond)
	}
	// One more right before the kill: it may be lost, and nothing else may.
	_ = ws.WriteJSON(map[string]string{"type": "chat", "text": "last words"})
	wsRead(t, ws, "chat")
	killedAt := time.Now()
	if err := salon.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-salon.done
	ws.Close()

	run()
	if code, m := call("POST", "/api/talks/crash/stop", ""); code != 200 {
		t.Fatalf("stop after the restart: %d %v", code, m)
	}
	jsonl := waitArchived(t, "http://"+httpAddr+"/archive/talks/crash/chat.jsonl", 30*time.Second)
	for text, at := range acked {
		if killedAt.Sub(at) >= time.Second && !strings.Contains(string(jsonl), `"text":"`+text+`"`) {
			t.Errorf("%q, acknowledged %v before the kill, is not in chat.jsonl:\n%s", text, killedAt.Sub(at).Round(time.Millisecond), jsonl)
		}
	}
	if n := strings.Count(string(jsonl), "\n"); n < 7 {
		t.Errorf("chat.jsonl has %d messages, want at least the 7 sent a second before the kill:\n%s", n, jsonl)
	}
}
