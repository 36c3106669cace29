package chat

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

func id(c *wsClient) string { return c.welcome["you"].(map[string]any)["id"].(string) }

// Everything the room saw and the organiser decided survives a restart:
// messages (deleted ones marked), votes, answered questions, bans and slow mode.
func TestHub_journal_restart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat", "main.jsonl")
	withJournal := func(h *Hub) { h.JournalPath = path; h.FlushEvery = 10 * time.Millisecond }

	e := newEnv(t, withJournal)
	a := e.dial(t, "10.0.0.1")
	troll := e.dial(t, "10.0.0.2")
	troll.send(map[string]string{"type": "hello", "name": "troll", "viewer": "viewer-key-of-the-troll"})
	a.chat("first")
	a.until(isChat("first"))
	a.send(map[string]string{"type": "question", "text": "Why CMAF?"})
	q := a.until(isType("chat"))
	troll.send(map[string]string{"type": "vote", "id": q.str("id")})
	a.until(isType("votes"))
	troll.chat("spam")
	spam := a.until(isChat("spam"))
	if err := e.hub.Delete(spam.str("id")); err != nil {
		t.Fatal(err)
	}
	if err := e.hub.Answer(q.str("id")); err != nil {
		t.Fatal(err)
	}
	if f := a.until(isType("answered")); f.str("id") != q.str("id") {
		t.Errorf("answered frame = %v", f)
	}
	if err := e.hub.Ban(id(troll), BanViewer); err != nil {
		t.Fatal(err)
	}
	e.hub.SetSlowMode(7 * time.Second)
	before := e.hub.Messages(time.Time{}, time.Time{})
	e.hub.Close()

	e2 := newEnv(t, withJournal)
	after := e2.hub.Messages(time.Time{}, time.Time{})
	if len(after) != 3 || len(before) != 3 {
		t.Fatalf("messages after restart = %+v, want the 3 from before %+v", after, before)
	}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("message %d: before %+v, after %+v", i, before[i], after[i])
		}
	}
	if !after[2].Deleted || !after[1].Answered || after[1].Votes != 1 {
		t.Errorf("restored state lost: %+v", after)
	}

	b := e2.dial(t, "10.0.0.1")
	var texts []string
	for _, h := range b.welcome["history"].([]any) {
		texts = append(texts, h.(map[string]any)["text"].(string))
	}
	if strings.Join(texts, "|") != "first|Why CMAF?" {
		t.Errorf("history after restart = %q, want first, the question, and not the deleted spam", texts)
	}
	qs := b.welcome["questions"].([]any)
	if len(qs) != 1 || qs[0].(map[string]any)["answered"] != true {
		t.Errorf("questions after restart = %v, want the answered question", qs)
	}

	// The troll's browser is still banned; its address is not (a viewer ban).
	back := e2.dial(t, "10.0.0.2")
	back.send(map[string]string{"type": "hello", "name": "troll2", "viewer": "viewer-key-of-the-troll"})
	if f := back.until(isType("error")); f.str("code") != CodeBanned {
		t.Errorf("banned viewer key got %v, want banned", f)
	}
	back.expectClosed()
	neighbour := e2.dial(t, "10.0.0.2")
	neighbour.chat("same NAT, not banned")
	neighbour.until(isChat("same NAT, not banned"))

	// Slow mode is still on.
	neighbour.chat("too soon")
	if f := neighbour.until(isType("error")); f.str("code") != CodeRateLimited || !strings.Contains(f.str("message"), "slow mode") {
		t.Errorf("second message under slow mode got %v", f)
	}
}

// The flusher writes without waiting for Close: what a kill -9 leaves on disk
// has every message older than one batch.
func TestJournal_flushesWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.jsonl")
	e := newEnv(t, func(h *Hub) { h.JournalPath = path; h.FlushEvery = 20 * time.Millisecond })
	a := e.dial(t, "")
	a.chat("on disk soon")
	a.until(isChat("on disk soon"))
	deadline := time.Now().Add(waitFor)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("on disk soon")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal still lacks the message: %q", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A crash mid-write leaves a torn last line: it is skipped, and what is
// appended afterwards is read back.
func TestJournal_tornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.jsonl")
	good := `{"msg":{"id":"a1","name":"ann","text":"hello","ts":"2025-04-21T10:00:00Z"}}` + "\n"
	torn := `{"msg":{"id":"a2","name":"bob","te`
	if err := os.WriteFile(path, []byte(good+"not json\n"+torn), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	var recs []string
	collect := func(rec []byte) { recs = append(recs, string(rec)) }
	j, err := openJournal(path, 10*time.Millisecond, log, collect)
	if err != nil {
		t.Fatal(err)
	}
	// The torn line is skipped; "not json" is the hub's to refuse.
	if len(recs) != 2 || !strings.Contains(recs[0], `"hello"`) || recs[1] != "not json" {
		t.Fatalf("records = %q, want the good line and the line that is not JSON", recs)
	}
	after := `{"msg":{"id":"a3","name":"cy","text":"after the crash","ts":"2025-04-21T10:00:01Z"}}`
	if err := j.Append(context.Background(), "a3", []byte(after)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	recs = nil
	j, err = openJournal(path, 10*time.Millisecond, log, collect)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// The torn line became a whole line that is not JSON (the hub skips
	// it); the append did not glue onto it.
	if len(recs) != 4 || recs[3] != after {
		t.Errorf("records after append = %q, want hello, not json, the torn line and after the crash", recs)
	}
}

func TestJournal_unwritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &Hub{Stage: "main", Log: slog.New(slog.DiscardHandler), JournalPath: filepath.Join(blocker, "main.jsonl")}
	err := h.Initialize()
	if err == nil {
		h.Close()
		t.Fatal("Initialize with a journal under a regular file succeeded")
	}
	if !strings.Contains(err.Error(), "-data") {
		t.Errorf("error %q does not say what to check", err)
	}
}

func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"msg":{"id":"a","name":"n","text":"t","ts":"2025-04-21T10:00:00Z"},"ip":"10.0.0.1"}` + "\n"))
	f.Add([]byte(`{"ban":{"client":"c","ip":"10.0.0.1","ts":"2025-04-21T10:00:00Z"}}` + "\n{\"slow_mode\":{\"seconds\":5}}\n"))
	f.Add([]byte("\n\n{}\n{\"msg\":null}\n"))
	f.Add([]byte(`{"vote":"a","voters":["k"]}` + "\n" + `{"delete":"a"}` + "\n" + `{"answered":"a"}` + "\n" + `{"onscreen":{"id":"a"}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "j.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		lines, _, err := readJournal(fh)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if rec, ok := decodeRecord(l); ok && !rec.valid() {
				t.Fatalf("decodeRecord accepted an invalid record %+v", rec)
			}
		}
		// Replaying whatever was read must not panic.
		h := &Hub{Stage: "main", Log: slog.New(slog.DiscardHandler), JournalPath: path}
		if err := h.Initialize(); err != nil {
			t.Fatal(err)
		}
		h.Close()
	})
}

// A viewer that stops reading cannot answer pings, and is dropped after two
// ping intervals while the others stay. The interval is 1 s: a reader on a
// loaded machine has a whole second to answer, and the check that it stays
// counts the pings it answered instead of sleeping.
func TestHub_dropsViewerThatStopsReading(t *testing.T) {
	e := newEnv(t, func(h *Hub) { h.PingInterval = time.Second })
	stalled, _, err := e.dialRaw(t, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close() // never read: pings go unanswered
	reader := e.dial(t, "10.0.0.2")
	pings := make(chan struct{}, 64)
	reader.conn.SetPingHandler(func(data string) error {
		err := reader.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitFor))
		select {
		case pings <- struct{}{}:
		default:
		}
		return err
	})
	go func() {
		for {
			if _, err := reader.tryNext(); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(waitFor)
	for e.hub.Viewers() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("viewers = %d, want the stalled one dropped", e.hub.Viewers())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Three more pings, answered: more than the two intervals that dropped
	// the stalled viewer.
	for len(pings) > 0 {
		<-pings
	}
	for i := range 3 {
		select {
		case <-pings:
		case <-time.After(waitFor):
			t.Fatalf("the reader got %d pings after the drop, want 3", i)
		}
	}
	if n := e.hub.Viewers(); n != 1 {
		t.Errorf("viewers = %d after the reader kept answering pings, want 1", n)
	}
}

// Viewers behind a shared address (the venue's NAT) are limited per
// connection only, and an IP ban there spares the rest of the room.
func TestHub_SharedNets(t *testing.T) {
	e := newEnv(t, func(h *Hub) {
		h.MaxConnsPerIP = 2
		h.RateLimit, h.RateBurst = rate.Every(2*time.Second/3), 3 // the default: 3 per 2 s
		h.SharedNets = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	var room []*wsClient
	for range 4 { // more than MaxConnsPerIP
		room = append(room, e.dial(t, "192.0.2.7"))
	}
	for i, c := range room { // more than the per-address burst of 3
		c.chat("hello " + itoa(i))
		c.until(isChat("hello " + itoa(i)))
	}
	troll := room[0]
	if err := e.hub.Ban(id(troll), BanIP); err != nil {
		t.Fatal(err)
	}
	if f := troll.until(isType("error")); f.str("code") != CodeBanned {
		t.Errorf("banned viewer got %v", f)
	}
	room[1].chat("still here")
	room[1].until(isChat("still here"))
	newcomer := e.dial(t, "192.0.2.7")
	newcomer.chat("just arrived")
	newcomer.until(isChat("just arrived"))

	// Elsewhere the per-address limits hold.
	e.dial(t, "198.51.100.1")
	e.dial(t, "198.51.100.1")
	if _, resp, err := e.dialRaw(t, "198.51.100.1"); err == nil || resp == nil || resp.StatusCode != 429 {
		t.Errorf("third connection from one address: %v %v, want 429", err, resp)
	}
}

// Journals written before records said what happened hold a message's later
// state as the whole message again; a batch the journal retried holds
// records twice. Both replay to the latest state: votes are not lost to an
// older copy, and a deleted message stays deleted.
func TestHub_journal_oldFormatAndRepeats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.jsonl")
	q := `{"id":"q1","client":"c1","name":"ann","text":"Why?","ts":"2025-04-21T10:00:00Z","question":true`
	m := `{"id":"m1","client":"c2","name":"bob","text":"spam","ts":"2025-04-21T10:00:01Z"`
	lines := []string{
		`{"msg":` + q + `},"ip":"10.0.0.1"}`,
		`{"msg":` + m + `},"ip":"10.0.0.2"}`,
		`{"msg":` + q + `,"votes":2},"voters":["k1","k2"]}`,
		`{"msg":` + m + `,"deleted":true}}`,
		`{"msg":` + q + `},"ip":"10.0.0.1"}`, // the first record again, from a retried batch
		`{"vote":"q1","voters":["k1"]}`,      // already counted
		`{"vote":"q1","voters":["k3"]}`,
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(h *Hub) { h.JournalPath = path })
	got := e.hub.Messages(time.Time{}, time.Time{})
	if len(got) != 2 || got[0].Votes != 3 || got[0].Deleted || !got[1].Deleted {
		t.Fatalf("replayed %+v, want the question with 3 votes and the deleted message", got)
	}
	if h := e.dial(t, "").welcome["history"].([]any); len(h) != 1 {
		t.Errorf("history = %v, want only the question", h)
	}
}
