package chat

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/salon/salon/internal/testkit"
)

// waitFor is the generous functional timeout: tests never assert on timing.
const waitFor = 15 * time.Second

type fakeTalks struct {
	mu   sync.Mutex
	id   string
	talk any
}

func (f *fakeTalks) LiveOn(string) (string, any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id, f.talk, f.id != ""
}

func (f *fakeTalks) set(id string, talk any) {
	f.mu.Lock()
	f.id, f.talk = id, talk
	f.mu.Unlock()
}

type testEnv struct {
	hub *Hub
	srv *httptest.Server
	url string
}

// newEnv starts a hub behind an httptest server on 127.0.0.1. The client IP
// is taken from the X-Test-IP header so tests can act as several addresses.
func newEnv(t *testing.T, configure func(h *Hub)) *testEnv {
	t.Helper()
	h := &Hub{
		Stage:     "main",
		Log:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		RateLimit: rate.Inf,
	}
	if configure != nil {
		configure(h)
	}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := r.Header.Get("X-Test-IP")
		if ip == "" {
			ip = "127.0.0.1"
		}
		h.ServeWS(w, r, ip)
	}))
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &testEnv{hub: h, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/chat/main"}
}

type frame map[string]any

func (f frame) str(k string) string { s, _ := f[k].(string); return s }

type wsClient struct {
	t       *testing.T
	conn    *websocket.Conn
	welcome frame
}

func (e *testEnv) dialRaw(t *testing.T, ip string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	if ip != "" {
		hdr.Set("X-Test-IP", ip)
	}
	return websocket.DefaultDialer.Dial(e.url, hdr)
}

// dial connects and reads the welcome frame.
func (e *testEnv) dial(t *testing.T, ip string) *wsClient {
	t.Helper()
	conn, _, err := e.dialRaw(t, ip)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	c.welcome = c.next()
	if c.welcome.str("type") != "welcome" {
		t.Fatalf("first frame = %v, want welcome", c.welcome)
	}
	return c
}

func (c *wsClient) next() frame {
	c.t.Helper()
	f, err := c.tryNext()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *wsClient) tryNext() (frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(waitFor))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("server sent invalid JSON %q: %v", data, err)
	}
	return f, nil
}

// until reads frames until one satisfies ok, skipping the others.
func (c *wsClient) until(ok func(frame) bool) frame {
	c.t.Helper()
	for {
		if f := c.next(); ok(f) {
			return f
		}
	}
}

func isType(typ string) func(frame) bool {
	return func(f frame) bool { return f.str("type") == typ }
}

func isChat(text string) func(frame) bool {
	return func(f frame) bool { return f.str("type") == "chat" && f.str("text") == text }
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsClient) chat(text string) {
	c.t.Helper()
	c.send(map[string]string{"type": "chat", "text": text})
}

// expectClosed reads until the connection ends and returns the close error.
func (c *wsClient) expectClosed() *websocket.CloseError {
	c.t.Helper()
	for {
		_, err := c.tryNext()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func TestHub_ServeWS_roundTrip(t *testing.T) {
	talks := &fakeTalks{}
	talks.set("opening", map[string]string{"id": "opening", "title": "Opening"})
	e := newEnv(t, func(h *Hub) { h.Talks = talks })
	a := e.dial(t, "")
	b := e.dial(t, "")

	if got := a.welcome["talk"].(map[string]any)["id"]; got != "opening" {
		t.Errorf("welcome talk id = %v, want opening", got)
	}
	if a.welcome["you"].(map[string]any)["id"] == "" {
		t.Error("welcome has no client id")
	}

	a.send(map[string]string{"type": "hello", "name": "  alice\x07  "})
	a.chat("  hello room  ")
	for _, c := range []*wsClient{a, b} {
		f := c.until(isType("chat"))
		if f.str("text") != "hello room" || f.str("name") != "alice" || f.str("talk") != "opening" || f.str("id") == "" {
			t.Errorf("chat frame = %v", f)
		}
		ts, err := time.Parse(time.RFC3339, f.str("ts"))
		if err != nil || ts.Location() != time.UTC {
			t.Errorf("ts %q is not RFC 3339 UTC: %v", f.str("ts"), err)
		}
	}

	talks.set("", nil)
	b.chat("no talk now")
	f := a.until(isChat("no talk now"))
	if v, ok := f["talk"]; !ok || v != nil {
		t.Errorf("talk = %v (present %v), want null", v, ok)
	}
}

func TestHub_ServeWS_history(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	const sent = 105
	for i := range sent {
		// One at a time: a burst of 105 echoes would overflow a's own
		// send queue and get it dropped, as designed.
		a.chat("m" + itoa(i))
		a.until(isChat("m" + itoa(i)))
	}

	b := e.dial(t, "")
	hist := b.welcome["history"].([]any)
	if len(hist) != 100 {
		t.Fatalf("history has %d messages, want 100", len(hist))
	}
	for i, m := range hist {
		if want := "m" + itoa(sent-100+i); m.(map[string]any)["text"] != want {
			t.Fatalf("history[%d] = %v, want %s (oldest first)", i, m, want)
		}
	}
	if got := len(e.hub.Messages(time.Time{}, time.Time{})); got != sent {
		t.Errorf("Messages kept %d, want %d", got, sent)
	}
}

func TestHub_Viewers(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	if a.welcome["viewers"] != 1.0 {
		t.Errorf("first welcome viewers = %v, want 1", a.welcome["viewers"])
	}
	b := e.dial(t, "")
	if b.welcome["viewers"] != 2.0 {
		t.Errorf("second welcome viewers = %v, want 2", b.welcome["viewers"])
	}
	a.until(func(f frame) bool { return f.str("type") == "viewers" && f["count"] == 2.0 })
	b.conn.Close()
	a.until(func(f frame) bool { return f.str("type") == "viewers" && f["count"] == 1.0 })
	if n := e.hub.Viewers(); n != 1 {
		t.Errorf("Viewers() = %d, want 1", n)
	}
}

func TestHub_TalkChanged(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	if v, ok := a.welcome["talk"]; !ok || v != nil {
		t.Errorf("welcome talk = %v, want null", v)
	}
	e.hub.TalkChanged("keynote", map[string]string{"id": "keynote", "title": "Keynote"})
	f := a.until(isType("talk"))
	if f["talk"].(map[string]any)["title"] != "Keynote" {
		t.Errorf("talk frame = %v", f)
	}
	e.hub.TalkChanged("", nil)
	f = a.until(isType("talk"))
	if v, ok := f["talk"]; !ok || v != nil {
		t.Errorf("talk frame = %v, want talk null", f)
	}
}

func TestHub_Delete(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	b := e.dial(t, "")
	a.chat("regrettable")
	a.chat("fine")
	id := b.until(isChat("regrettable")).str("id")
	b.until(isChat("fine"))

	if err := e.hub.Delete(id); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wsClient{a, b} {
		if f := c.until(isType("delete")); f.str("id") != id {
			t.Errorf("delete frame = %v, want id %s", f, id)
		}
	}
	c := e.dial(t, "")
	for _, m := range c.welcome["history"].([]any) {
		if m.(map[string]any)["id"] == id {
			t.Error("deleted message still in history")
		}
	}
	msgs := e.hub.Messages(time.Time{}, time.Time{})
	if len(msgs) != 2 || !msgs[0].Deleted || msgs[1].Deleted {
		t.Errorf("Messages = %+v, want the first marked deleted", msgs)
	}
	if err := e.hub.Delete("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(unknown) = %v, want ErrNotFound", err)
	}
}

func TestHub_Ban(t *testing.T) {
	e := newEnv(t, nil)
	troll := e.dial(t, "10.0.0.1")
	other := e.dial(t, "10.0.0.2")
	troll.chat("spam")
	other.until(isChat("spam"))

	trollID := troll.welcome["you"].(map[string]any)["id"].(string)
	if err := e.hub.Ban(trollID, BanIP); err != nil {
		t.Fatal(err)
	}
	if f := troll.until(isType("error")); f.str("code") != CodeBanned {
		t.Errorf("error frame = %v, want banned", f)
	}
	if ce := troll.expectClosed(); ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("close = %v, want policy violation", ce)
	}

	// Coming back from the same address is refused the same way.
	back, _, err := e.dialRaw(t, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	rc := &wsClient{t: t, conn: back}
	if f := rc.next(); f.str("type") != "error" || f.str("code") != CodeBanned {
		t.Errorf("reconnect got %v, want banned error", f)
	}
	rc.expectClosed()

	other.chat("still here")
	other.until(isChat("still here"))
	if err := e.hub.Ban("nobody", BanIP); !errors.Is(err, ErrNotFound) {
		t.Errorf("Ban(unknown) = %v, want ErrNotFound", err)
	}
}

func TestHub_SetSlowMode(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	e.hub.SetSlowMode(time.Hour)
	a.chat("one")
	a.until(isChat("one"))
	a.chat("two")
	f := a.until(func(f frame) bool { return f.str("type") == "error" || f.str("type") == "chat" })
	if f.str("code") != CodeRateLimited || !strings.Contains(f.str("message"), "slow mode") {
		t.Errorf("second message got %v, want rate_limited slow mode", f)
	}
	e.hub.SetSlowMode(0)
	a.chat("three")
	a.until(isChat("three"))
}

func TestHub_rateLimit(t *testing.T) {
	// A frozen clock: the token buckets never refill, so the outcome does
	// not depend on how fast the test runs.
	frozen := time.Date(2025, 4, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		senders []string // IP of the sender of each message, in order
	}{
		{"per connection", []string{"a", "a", "a", "a"}},
		{"per IP", []string{"a", "a2", "a", "a2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(h *Hub) {
				h.RateLimit = 0 // default: 3 per 2 s
				h.Now = func() time.Time { return frozen }
			})
			// "a" and "a2" are two connections from one address.
			conns := map[string]*wsClient{"a": e.dial(t, "10.0.0.1"), "a2": e.dial(t, "10.0.0.1")}
			watcher := e.dial(t, "10.0.0.9")
			for i, who := range tt.senders {
				c := conns[who]
				text := "msg" + itoa(i)
				c.chat(text)
				f := c.until(func(f frame) bool { return f.str("type") == "error" || isChat(text)(f) })
				if last := i == len(tt.senders)-1; last != (f.str("type") == "error") {
					t.Fatalf("message %d got %v", i, f)
				}
				if i == len(tt.senders)-1 && f.str("code") != CodeRateLimited {
					t.Errorf("error code = %q, want rate_limited", f.str("code"))
				}
			}
			watcher.chat("marker")
			f := watcher.until(func(f frame) bool {
				return f.str("type") == "chat" && (f.str("text") == "marker" || f.str("text") == "msg3")
			})
			if f.str("text") != "marker" {
				t.Errorf("rate-limited message was broadcast: %v", f)
			}
		})
	}
}

func TestHub_ServeWS_badFrames(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	tests := []struct {
		name   string
		binary bool
		data   string
		code   string
	}{
		{"invalid JSON", false, `{"type":"chat",`, CodeBadRequest},
		{"not an object", false, `[1,2]`, CodeBadRequest},
		{"unknown type", false, `{"type":"shout","text":"hi"}`, CodeBadRequest},
		{"no type", false, `{"text":"hi"}`, CodeBadRequest},
		{"empty text", false, `{"type":"chat","text":" \u0000 "}`, CodeBadRequest},
		{"text too long", false, `{"type":"chat","text":"` + strings.Repeat("é", 501) + `"}`, CodeTooLong},
		{"name too long", false, `{"type":"hello","name":"` + strings.Repeat("n", 33) + `"}`, CodeTooLong},
		{"empty name", false, `{"type":"hello","name":"   "}`, CodeBadRequest},
		{"binary frame", true, `{"type":"chat","text":"hi"}`, CodeBadRequest},
		{"vote for unknown", false, `{"type":"vote","id":"zzz"}`, CodeBadRequest},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := websocket.TextMessage
			if tt.binary {
				typ = websocket.BinaryMessage
			}
			if err := a.conn.WriteMessage(typ, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			f := a.until(func(f frame) bool { return f.str("type") == "error" || f.str("type") == "chat" })
			if f.str("type") != "error" || f.str("code") != tt.code || f.str("message") == "" {
				t.Errorf("got %v, want error %s", f, tt.code)
			}
			// The connection lives on.
			text := "after " + itoa(i)
			a.chat(text)
			a.until(isChat(text))
		})
	}
	a.chat(strings.Repeat("é", 500))
	a.until(isChat(strings.Repeat("é", 500)))
}

func TestHub_ServeWS_oversizedFrame(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	big := `{"type":"chat","text":"` + strings.Repeat("x", 5000) + `"}`
	if err := a.conn.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	ce := a.expectClosed()
	if ce.Code != websocket.CloseMessageTooBig || !strings.Contains(ce.Text, "4096 bytes") {
		t.Errorf("close = %d %q, want 1009 naming the 4096-byte limit", ce.Code, ce.Text)
	}
}

func TestHub_ServeWS_htmlIsText(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	b := e.dial(t, "")
	const evil = `<img src=x onerror=alert(1)> & "quotes" 'too'`
	a.send(map[string]string{"type": "hello", "name": "<b>bold</b>"})
	a.chat(evil + "\r\nline two")
	f := b.until(isType("chat"))
	if f.str("text") != evil+"\nline two" || f.str("name") != "<b>bold</b>" {
		t.Errorf("got text %q name %q, want them verbatim (CR stripped)", f.str("text"), f.str("name"))
	}
}

func TestHub_ServeWS_questions(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t, "")
	b := e.dial(t, "10.0.0.2")
	a.send(map[string]string{"type": "question", "text": "Why fMP4?"})
	q := b.until(isType("chat"))
	if q["question"] != true {
		t.Fatalf("question frame = %v, want question true", q)
	}
	for _, voter := range []*wsClient{b, b, a} {
		voter.send(map[string]string{"type": "vote", "id": q.str("id")})
	}
	if f := a.until(isType("votes")); f.str("id") != q.str("id") || f["count"] != 1.0 {
		t.Errorf("first votes frame = %v, want count 1", f)
	}
	if f := a.until(isType("votes")); f["count"] != 2.0 {
		t.Errorf("second votes frame = %v, want count 2 (one vote per client)", f)
	}
	a.chat("plain")
	plain := a.until(isChat("plain"))
	a.send(map[string]string{"type": "vote", "id": plain.str("id")})
	if f := a.until(isType("error")); f.str("code") != CodeBadRequest {
		t.Errorf("vote for a non-question got %v", f)
	}
}

func TestHub_ServeWS_limits(t *testing.T) {
	e := newEnv(t, func(h *Hub) { h.MaxConnsPerIP = 2 })
	e.dial(t, "10.0.0.5")
	e.dial(t, "10.0.0.5")
	_, resp, err := e.dialRaw(t, "10.0.0.5")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("third connection: err %v, response %v; want 429", err, resp)
	}
	e.dial(t, "10.0.0.6")

	hdr := http.Header{"Origin": {"http://evil.example"}}
	_, resp, err = websocket.DefaultDialer.Dial(e.url, hdr)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: err %v, response %v; want 403", err, resp)
	}
	hdr = http.Header{"Origin": {e.srv.URL}}
	conn, _, err := websocket.DefaultDialer.Dial(e.url, hdr)
	if err != nil {
		t.Errorf("same origin refused: %v", err)
	} else {
		conn.Close()
	}
}

// lockedBuffer is a log sink tests read while the hub writes.
type lockedBuffer = testkit.LogBuffer

// TestHub_broadcast_dropsSlowClient: a viewer that never reads is dropped
// because its send queue filled. Pings and write deadlines are an hour, far
// beyond the test, so that no other rule can drop it in its place; the log
// line names the reason.
func TestHub_broadcast_dropsSlowClient(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, func(h *Hub) {
		h.SendQueue = 8
		h.PingInterval = time.Hour
		h.WriteTimeout = time.Hour
		h.Log = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	slow, _, err := e.dialRaw(t, "") // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	good := e.dial(t, "")

	got := make(chan frame, 16)
	go func() {
		defer close(got)
		for {
			f, err := good.tryNext()
			if err != nil {
				return
			}
			got <- f
		}
	}()
	nextTalk := func() frame {
		t.Helper()
		timeout := time.After(waitFor)
		for {
			select {
			case f, ok := <-got:
				if !ok {
					t.Fatal("good client was disconnected")
				}
				if f.str("type") == "talk" || f.str("type") == "chat" {
					return f
				}
			case <-timeout:
				t.Fatal("good client received nothing")
			}
		}
	}

	big := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(2 * waitFor)
	for i := 0; e.hub.Viewers() > 1; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("slow client still connected after %d large frames", i)
		}
		e.hub.TalkChanged("t", map[string]any{"n": i, "pad": big})
		if f := nextTalk(); f["talk"].(map[string]any)["n"] != float64(i) {
			t.Fatalf("good client got talk %v, want %d", f["talk"].(map[string]any)["n"], i)
		}
	}
	if l := logs.String(); !strings.Contains(l, "viewer too slow, dropped") {
		t.Fatalf("the slow viewer left without the full-queue drop's log line:\n%s", l)
	}
	// The room still works.
	good.chat("still flowing")
	if f := nextTalk(); f.str("text") != "still flowing" {
		t.Errorf("got %v", f)
	}
}

func TestHub_Close(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		h := &Hub{Stage: "main", Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
		if err := h.Initialize(); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeWS(w, r, "127.0.0.1")
		}))
		defer srv.Close()
		e := &testEnv{hub: h, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
		var clients []*wsClient
		for range 3 {
			clients = append(clients, e.dial(t, ""))
		}
		// Read concurrently, as browsers do, so each close frame is answered
		// and Close takes the graceful path.
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() {
				defer c.conn.Close()
				for {
					_, _, err := c.conn.ReadMessage()
					if err == nil {
						continue
					}
					if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
						t.Errorf("connection ended with %v, want close going away", err)
					}
					return
				}
			})
		}
		h.Close()
		wg.Wait()
		if _, resp, err := e.dialRaw(t, ""); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("dial after Close: err %v, response %v; want 503", err, resp)
		}
		if n := h.Viewers(); n != 0 {
			t.Errorf("Viewers after Close = %d", n)
		}
	}()
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHub_Messages(t *testing.T) {
	now := time.Date(2025, 4, 21, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e := newEnv(t, func(h *Hub) {
		h.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	a := e.dial(t, "")
	for i := range 5 {
		a.chat("at " + itoa(i))
		a.until(isChat("at " + itoa(i)))
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
	}
	start := time.Date(2025, 4, 21, 10, 1, 0, 0, time.UTC)
	got := e.hub.Messages(start, start.Add(3*time.Minute))
	if len(got) != 3 || got[0].Text != "at 1" || got[2].Text != "at 3" {
		t.Errorf("Messages = %+v, want at 1..at 3", got)
	}
	if got[0].ClientID == "" || got[0].Time != start {
		t.Errorf("message = %+v", got[0])
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
