package chat

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestHub_SetOnScreen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.jsonl")
	withJournal := func(h *Hub) { h.JournalPath = path; h.FlushEvery = 10 * time.Millisecond }
	e := newEnv(t, withJournal)
	a := e.dial(t, "")
	if w := a.welcome; w["onscreen"] != nil {
		t.Fatalf("welcome onscreen = %v, want null", w["onscreen"])
	}
	a.send(map[string]string{"type": "question", "text": "为什么用 fMP4？"})
	q := a.until(isType("chat"))
	a.chat("not a question")
	plain := a.until(isChat("not a question"))
	a.send(map[string]string{"type": "question", "text": "Second?"})
	q2 := a.until(isChat("Second?"))

	for _, bad := range []string{"nope", plain.str("id")} {
		if err := e.hub.SetOnScreen(bad); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SetOnScreen(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	if _, ok := e.hub.OnScreen(); ok {
		t.Fatal("a refused id was put on screen")
	}
	if err := e.hub.SetOnScreen(q.str("id")); err != nil {
		t.Fatal(err)
	}
	f := a.until(isType("onscreen"))
	qf, _ := f["question"].(map[string]any)
	if f.str("id") != q.str("id") || qf == nil || qf["text"] != "为什么用 fMP4？" {
		t.Fatalf("onscreen frame = %v", f)
	}
	// A viewer who joins now is told in the welcome frame.
	b := e.dial(t, "")
	if w := b.welcome; w["onscreen"] == nil || w["onscreen"].(map[string]any)["id"] != q.str("id") {
		t.Fatalf("welcome onscreen = %v", w["onscreen"])
	}

	// It survives a restart.
	e.hub.Close()
	e2 := newEnv(t, withJournal)
	if m, ok := e2.hub.OnScreen(); !ok || m.ID != q.str("id") {
		t.Fatalf("after restart: %+v %v", m, ok)
	}
	c := e2.dial(t, "")
	if w := c.welcome; w["onscreen"] == nil {
		t.Fatal("welcome after restart lost the question on screen")
	}
	// Deleting the question on screen takes it off.
	if err := e2.hub.SetOnScreen(q2.str("id")); err != nil {
		t.Fatal(err)
	}
	c.until(isType("onscreen"))
	if err := e2.hub.Delete(q2.str("id")); err != nil {
		t.Fatal(err)
	}
	if f := c.until(isType("onscreen")); f["id"] != nil || f["question"] != nil {
		t.Fatalf("onscreen after delete = %v, want null", f)
	}
	if err := e2.hub.SetOnScreen(q2.str("id")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a deleted question put on screen: %v", err)
	}
	if err := e2.hub.SetOnScreen(q.str("id")); err != nil {
		t.Fatal(err)
	}
	c.until(isType("onscreen"))
	if err := e2.hub.SetOnScreen(""); err != nil {
		t.Fatal(err)
	}
	if f := c.until(isType("onscreen")); f["id"] != nil {
		t.Fatalf("cleared onscreen = %v", f)
	}
	e2.hub.Close()
	e3 := newEnv(t, withJournal)
	if _, ok := e3.hub.OnScreen(); ok {
		t.Fatal("cleared question back on screen after restart")
	}
}
