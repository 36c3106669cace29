package nodetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is one JSON frame the chat sent.
type Frame map[string]any

// Viewer is a chat websocket on stage main whose frames a goroutine
// collects; Redial moves it to another node (a browser reconnecting), its
// frames so far kept. mu guards everything below it.
type Viewer struct {
	Name string
	t    testing.TB

	mu      sync.Mutex
	conn    *websocket.Conn
	frames  []Frame
	closed  bool          // the current connection ended
	changed chan struct{} // closed and replaced when frames or closed change
}

// frameWait bounds how long a test waits for one frame.
const frameWait = 60 * time.Second

// Dial connects a viewer named name to the node's chat of stage main and
// waits for its welcome.
func (n *Node) Dial(name string) *Viewer {
	n.d.t.Helper()
	v := &Viewer{Name: name, t: n.d.t, changed: make(chan struct{})}
	if err := v.dial(n); err != nil {
		n.d.t.Fatal(err)
	}
	n.d.t.Cleanup(v.Close)
	return v
}

// Redial connects the viewer to node n again (after its node was lost).
func (v *Viewer) Redial(n *Node) error {
	v.mu.Lock()
	old := v.conn
	v.mu.Unlock()
	old.Close()
	return v.dial(n)
}

func (v *Viewer) dial(n *Node) error {
	url := "ws://" + n.HTTP + "/ws/chat/main"
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return fmt.Errorf("%s: dial %s: %w", v.Name, url, err)
	}
	v.mu.Lock()
	start := len(v.frames)
	v.conn, v.closed = conn, false
	v.mu.Unlock()
	go v.read(conn)
	if _, err := v.wait(start, "welcome", func(f Frame) bool { return f["type"] == "welcome" }); err != nil {
		return err
	}
	return v.write(map[string]string{"type": "hello", "name": v.Name, "viewer": "viewer-key-of-" + v.Name})
}

func (v *Viewer) read(conn *websocket.Conn) {
	for {
		_, b, err := conn.ReadMessage()
		v.mu.Lock()
		if v.conn != conn {
			v.mu.Unlock()
			return // replaced by Redial
		}
		if err != nil {
			v.closed = true
		} else {
			var f Frame
			_ = json.Unmarshal(b, &f)
			v.frames = append(v.frames, f)
		}
		close(v.changed)
		v.changed = make(chan struct{})
		v.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (v *Viewer) write(m any) error {
	v.mu.Lock()
	conn := v.conn
	v.mu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteJSON(m); err != nil {
		return fmt.Errorf("%s: send %v: %w", v.Name, m, err)
	}
	return nil
}

// Send posts a chat message and tells whether the chat acknowledged it:
// the sender's own chat frame came back, which the node sends once the
// message is committed to the deployment's chat log. false: an error
// frame answered, or the connection ended first (its node was lost).
func (v *Viewer) Send(text string) bool {
	v.mu.Lock()
	start := len(v.frames)
	v.mu.Unlock()
	if err := v.write(map[string]string{"type": "chat", "text": text}); err != nil {
		return false
	}
	f, err := v.wait(start, "answer to "+text, func(f Frame) bool {
		return (f["type"] == "chat" && f["text"] == text) || f["type"] == "error"
	})
	return err == nil && f["type"] == "chat"
}

// Until waits for a frame (from the first on) that ok accepts and returns
// it; it fails the test after a minute or when the connection ends.
func (v *Viewer) Until(what string, ok func(Frame) bool) Frame {
	v.t.Helper()
	f, err := v.wait(0, what, ok)
	if err != nil {
		v.t.Fatal(err)
	}
	return f
}

// wait waits for a frame from index start on that ok accepts.
func (v *Viewer) wait(start int, what string, ok func(Frame) bool) (Frame, error) {
	deadline := time.NewTimer(frameWait)
	defer deadline.Stop()
	for {
		v.mu.Lock()
		for _, f := range v.frames[start:] {
			if ok(f) {
				v.mu.Unlock()
				return f, nil
			}
		}
		start = len(v.frames)
		closed, ch := v.closed, v.changed
		v.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("%s: connection closed while waiting for %s", v.Name, what)
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil, fmt.Errorf("%s: no %s within %s", v.Name, what, frameWait)
		}
	}
}

// Frames are every frame received so far, over every connection.
func (v *Viewer) Frames() []Frame {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Frame(nil), v.frames...)
}

// Close closes the connection.
func (v *Viewer) Close() {
	v.mu.Lock()
	conn := v.conn
	v.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// ChatIDs are the ids of the chat messages the viewer was shown, in the
// order it was shown them: each welcome's history (the messages it missed
// while reconnecting), then live chat frames. A message in a later
// welcome's history that was shown already is not repeated; live frames
// are kept as they came, so a duplicate delivery shows twice.
func (v *Viewer) ChatIDs() (ids []string, texts map[string]string) {
	texts = map[string]string{}
	seen := map[string]bool{}
	add := func(f map[string]any, live bool) {
		id, _ := f["id"].(string)
		if id == "" || (!live && seen[id]) {
			return
		}
		seen[id] = true
		texts[id], _ = f["text"].(string)
		ids = append(ids, id)
	}
	for _, f := range v.Frames() {
		switch f["type"] {
		case "welcome":
			hist, _ := f["history"].([]any)
			for _, h := range hist {
				if m, ok := h.(map[string]any); ok {
					add(m, false)
				}
			}
		case "chat":
			add(f, true)
		}
	}
	return ids, texts
}

// WaitTexts waits until the viewer was shown a chat message with each of
// texts (live or in a welcome's history); it fails the test after a
// minute.
func (v *Viewer) WaitTexts(texts []string) {
	v.t.Helper()
	deadline := time.NewTimer(frameWait)
	defer deadline.Stop()
	for {
		v.mu.Lock()
		ch := v.changed
		v.mu.Unlock()
		_, shown := v.ChatIDs()
		seen := map[string]bool{}
		for _, s := range shown {
			seen[s] = true
		}
		var missing []string
		for _, s := range texts {
			if !seen[s] {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			v.t.Fatalf("%s: not shown %d of %d messages within %s: %v", v.Name, len(missing), len(texts), frameWait, missing)
		}
	}
}

// Closed tells whether the current connection has ended.
func (v *Viewer) Closed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closed
}
