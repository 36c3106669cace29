package main

import (
	"encoding/json"
	"strings"
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
	ada, bob := dial(), dial()
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"opening","title":"Opening","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
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
	if code, m := api(t, a, "POST", "/api/stages/main/chat/messages/"+spam["id"].(string)+"/ban", ""); code != 204 {
		t.Fatalf("ban: %d %v", code, m)
	}
	if e := wsRead(t, ada, "error"); e["code"] != "banned" {
		t.Fatalf("banned client got %v", e)
	}
	if code, _ := apiURL(t, a.httpURL("/api/stages/main/chat/messages/nope"), "wrong-token", "DELETE", ""); code != 401 {
		t.Fatalf("delete without the admin token: %d", code)
	}

	// Stopping the talk archives its chat, deleted messages marked.
	if code, m := api(t, a, "POST", "/api/talks/opening/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	_, jsonl, _ := get(t, a.httpURL("/archive/talks/opening/chat.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(jsonl)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"deleted":true`) || strings.Contains(string(jsonl), `"client"`) {
		t.Fatalf("chat.jsonl:\n%s", jsonl)
	}

	// Bad stage names are refused before any upgrade.
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/Main", nil); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("bad stage: %v %v", err, resp)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
