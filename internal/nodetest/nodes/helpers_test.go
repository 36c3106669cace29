package nodes

import (
	"fmt"
	"strings"
	"sync"
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

// talker posts a message every second on v until end, and records which
// were acknowledged and which were answered with an error (the sender was
// told to send again).
type talker struct {
	mu             sync.Mutex
	acked, refused []string
	stop, done     chan struct{}
}

func talk(v *nodetest.Viewer) *talker {
	tk := &talker{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tk.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-tk.stop:
				return
			case <-tick.C:
			}
			text := fmt.Sprintf("%s #%d", v.Name, k)
			ok := v.Send(text)
			tk.mu.Lock()
			if ok {
				tk.acked = append(tk.acked, text)
			} else {
				tk.refused = append(tk.refused, text)
			}
			tk.mu.Unlock()
		}
	}()
	return tk
}

// acknowledged is how many of its messages were acknowledged so far.
func (tk *talker) acknowledged() int {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return len(tk.acked)
}

// end stops the talker and returns what was acknowledged and refused.
func (tk *talker) end() (acked, refused []string) {
	close(tk.stop)
	<-tk.done
	return tk.acked, tk.refused
}
