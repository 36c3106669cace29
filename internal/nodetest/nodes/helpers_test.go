package nodes

import (
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/internal/nodetest"
	"github.com/salon/salon/internal/testkit"
)

// takeStage publishes to n again every half second, as an encoder
// reconnecting through the load balancer does, until n takes the stage
// (another node's lease on it has ended), and returns that publisher. The
// test fails when that takes more than a minute; since names the event
// the minute counts from, for the message.
func takeStage(t *testing.T, n *nodetest.Node, since string) *testkit.Process {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		p := publish(t, n)
		select {
		case <-n.Logged("publish started", 30*time.Second):
			return p
		case <-p.Done():
			if !strings.Contains(p.Stderr.String(), "published on another node") && !strings.Contains(n.Log(), "published on another node") {
				t.Logf("publisher refused by %s: %s", n.Name, p.Stderr.String())
			}
			select {
			case <-time.After(500 * time.Millisecond): // the encoder's reconnect delay
			case <-deadline:
				t.Fatalf("%s did not take the stage within a minute of %s", n.Name, since)
			}
		}
	}
}

// checkStoredChat fails the test when stored (a talk's chat.jsonl) holds a
// message twice or misses an acknowledged one.
func checkStoredChat(t *testing.T, stored []storedMessage, acked []string) {
	t.Helper()
	count := map[string]int{}
	for _, m := range stored {
		if count[m.Text]++; count[m.Text] == 2 {
			t.Errorf("chat.jsonl holds %q twice", m.Text)
		}
	}
	for _, text := range acked {
		if count[text] == 0 {
			t.Errorf("acknowledged message %q is not in chat.jsonl", text)
		}
	}
}
