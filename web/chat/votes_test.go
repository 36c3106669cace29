package chat

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// TestHub_vote_stuffing reproduces finding 5 of issue 13: 50 reconnects
// from one address gave a question 50 votes. Now one viewer (viewer key and
// address) votes once, across reconnects and restarts; behind a shared
// network, where the address is everyone's, the viewer key decides.
func TestHub_vote_stuffing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.jsonl")
	withJournal := func(h *Hub) {
		h.JournalPath = path
		h.FlushEvery = 10 * time.Millisecond
		h.SharedNets = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		h.MaxConnsPerIP = 100 // the closed connections leave asynchronously
	}
	e := newEnv(t, withJournal)
	host := e.dial(t, "10.0.0.1")
	host.send(map[string]string{"type": "question", "text": "Will the slides be online?"})
	q := host.until(isType("chat")).str("id")
	n := 0
	vote := func(host, c *wsClient) {
		t.Helper()
		n++
		c.send(map[string]string{"type": "vote", "id": q})
		sync := fmt.Sprintf("voted %d", n)
		c.chat(sync)
		host.until(isChat(sync))
	}
	votes := func(h *Hub) int {
		t.Helper()
		for _, m := range h.Messages(time.Time{}, time.Time{}) {
			if m.ID == q {
				return m.Votes
			}
		}
		t.Fatal("the question is gone")
		return 0
	}

	// The attacker: 50 connections from one address, each with a new viewer
	// key or none, each voting.
	for i := range 50 {
		c := e.dial(t, "10.0.0.66")
		if i%2 == 0 {
			c.send(map[string]string{"type": "hello", "viewer": fmt.Sprintf("made-up-viewer-key-%04d", i)})
		}
		vote(host, c)
		c.conn.Close()
	}
	// A second tab of one browser on another address: same viewer key.
	tab1 := e.dial(t, "10.0.0.7")
	tab1.send(map[string]string{"type": "hello", "viewer": "viewer-key-of-ada-0001"})
	vote(host, tab1)
	tab2 := e.dial(t, "10.0.0.8")
	tab2.send(map[string]string{"type": "hello", "viewer": "viewer-key-of-ada-0001"})
	vote(host, tab2)
	// Two phones behind the venue's NAT: two votes.
	for _, key := range []string{"viewer-key-of-phone-01", "viewer-key-of-phone-02"} {
		p := e.dial(t, "192.0.2.10")
		p.send(map[string]string{"type": "hello", "viewer": key})
		vote(host, p)
	}
	// The first phone again, reconnected: nothing.
	again := e.dial(t, "192.0.2.10")
	again.send(map[string]string{"type": "hello", "viewer": "viewer-key-of-phone-01"})
	vote(host, again)
	const want = 1 + 1 + 2 // the attacker, Ada, two phones
	if got := votes(e.hub); got != want {
		t.Fatalf("votes = %d, want %d", got, want)
	}
	e.hub.Close()

	// After a restart the same people cannot vote again.
	e2 := newEnv(t, withJournal)
	host = e2.dial(t, "10.0.0.1")
	for i := range 10 {
		c := e2.dial(t, "10.0.0.66")
		c.send(map[string]string{"type": "hello", "viewer": fmt.Sprintf("another-made-up-key-%04d", i)})
		vote(host, c)
	}
	p := e2.dial(t, "192.0.2.10")
	p.send(map[string]string{"type": "hello", "viewer": "viewer-key-of-phone-02"})
	vote(host, p)
	vote(host, e2.dial(t, "10.0.0.100"))
	if got := votes(e2.hub); got != want+1 {
		t.Fatalf("after a restart: votes = %d, want %d (only the new voter)", got, want+1)
	}
}
