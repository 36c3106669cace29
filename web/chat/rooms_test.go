package chat

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// fakeStages is the programme as Rooms sees it: the stages that are live or
// have talks, and the talk on each.
type fakeStages struct {
	mu     sync.Mutex
	stages map[string]string // stage → live talk id ("" none)
}

func (f *fakeStages) HasStage(stage string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.stages[stage]
	return ok
}

func (f *fakeStages) OnStage(stage string) (string, any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.stages[stage]
	return id, map[string]string{"id": id}, id != ""
}

func (f *fakeStages) set(stage, talk string) {
	f.mu.Lock()
	f.stages[stage] = talk
	f.mu.Unlock()
}

func (f *fakeStages) remove(stage string) {
	f.mu.Lock()
	delete(f.stages, stage)
	f.mu.Unlock()
}

// newRooms serves /ws/chat/{stage} from Rooms as web does: 404 for a stage
// without a room, 503 when none is free.
func newRooms(t *testing.T, stages *fakeStages, configure func(*Rooms)) (*Rooms, string) {
	t.Helper()
	r := &Rooms{
		Dir:       t.TempDir(),
		Stages:    stages,
		Log:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Configure: func(h *Hub) { h.RateLimit = rate.Inf; h.FlushEvery = 10 * time.Millisecond },
	}
	if configure != nil {
		configure(r)
	}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/chat/{stage}", func(w http.ResponseWriter, req *http.Request) {
		err := r.Use(req.PathValue("stage"), func(h *Hub) { h.ServeWS(w, req, "127.0.0.1") })
		switch {
		case errors.Is(err, ErrNoRoom):
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		r.Close()
		srv.Close()
	})
	return r, "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/chat/"
}

func dialRoom(t *testing.T, base, stage string) (*wsClient, int) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(base+stage, nil)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", stage, err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	c.welcome = c.next()
	return c, http.StatusSwitchingProtocols
}

// TestRooms_NotExhausted is hardening finding 4: websockets to made-up
// stages junk-0 … junk-99 from one address open no room and leave no
// journal, and the stages that are live or have talks keep their chat.
func TestRooms_NotExhausted(t *testing.T) {
	stages := &fakeStages{stages: map[string]string{"main": "opening"}}
	r, base := newRooms(t, stages, func(r *Rooms) { r.MaxRooms = 4 })
	for i := range 100 {
		if c, code := dialRoom(t, base, fmt.Sprintf("junk-%d", i)); c != nil || code != http.StatusNotFound {
			t.Fatalf("junk-%d: %d, want 404", i, code)
		}
	}
	if n := r.Len(); n != 0 {
		t.Fatalf("%d rooms open after 100 made-up stages", n)
	}
	if files, _ := os.ReadDir(r.Dir); len(files) != 0 {
		t.Fatalf("journals left for made-up stages: %v", files)
	}
	c, code := dialRoom(t, base, "main")
	if c == nil {
		t.Fatalf("main: %d", code)
	}
	if talk, _ := c.welcome["talk"].(map[string]any); talk["id"] != "opening" {
		t.Fatalf("welcome talk %v", c.welcome["talk"])
	}
	// A stage gets its room when it gets talks (or goes live).
	stages.set("side", "")
	if c, code := dialRoom(t, base, "side"); c == nil {
		t.Fatalf("side after it got talks: %d", code)
	}
}

// TestRooms_Idle: a room nobody watches goes away (its journal stays and is
// replayed when the room opens again); when every room is taken, the idle
// one used least recently makes space, and a full house of watched rooms
// refuses with ErrFull.
func TestRooms_Idle(t *testing.T) {
	stages := &fakeStages{stages: map[string]string{"a": "", "b": "", "c": ""}}
	r, base := newRooms(t, stages, func(r *Rooms) { r.MaxRooms = 2; r.IdleAfter = time.Hour })

	a, _ := dialRoom(t, base, "a")
	a.conn.WriteJSON(map[string]string{"type": "chat", "text": "kept"})
	a.until(func(f frame) bool { return f.str("type") == "chat" })
	r.sweep(time.Now().Add(2 * time.Hour))
	if !r.Open("a") {
		t.Fatal("a room with a viewer was closed")
	}
	a.conn.Close()
	waitUntil(t, "the viewer leaves", func() bool {
		n := 0
		_ = r.Use("a", func(h *Hub) { n = h.Viewers() })
		return n == 0
	})
	r.sweep(time.Now().Add(2 * time.Hour))
	if r.Open("a") {
		t.Fatal("an idle room stayed open")
	}
	again, _ := dialRoom(t, base, "a")
	if h, _ := again.welcome["history"].([]any); len(h) != 1 {
		t.Fatalf("reopened room's history %v, want the message from its journal", again.welcome["history"])
	}
	again.conn.Close()

	// A stage that loses its talks loses its room at the next sweep.
	if err := r.Use("b", func(*Hub) {}); err != nil {
		t.Fatal(err)
	}
	stages.remove("b")
	r.sweep(time.Now())
	if r.Open("b") {
		t.Fatal("the room of a stage without talks stayed open")
	}

	// Full: the idle room makes space; watched rooms do not.
	waitUntil(t, "a's viewer leaves", func() bool {
		n := 0
		_ = r.Use("a", func(h *Hub) { n = h.Viewers() })
		return n == 0
	})
	stages.set("b", "")
	if err := r.Use("b", func(*Hub) {}); err != nil {
		t.Fatal(err)
	}
	if err := r.Use("c", func(*Hub) {}); err != nil {
		t.Fatalf("c with an idle room to evict: %v", err)
	}
	if r.Len() != 2 {
		t.Fatalf("%d rooms open, MaxRooms 2", r.Len())
	}
	var open []string
	for _, s := range []string{"a", "b", "c"} {
		if r.Open(s) {
			open = append(open, s)
		}
	}
	for _, s := range open {
		dialRoom(t, base, s)
	}
	var third string
	for _, s := range []string{"a", "b", "c"} {
		if !r.Open(s) {
			third = s
		}
	}
	if c, code := dialRoom(t, base, third); c != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("%s with every room watched: %d, want 503", third, code)
	}
}

// waitUntil waits for a condition the test cannot be told about directly.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
