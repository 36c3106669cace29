package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
)

func openCounts(t *testing.T, n *Node, ttl time.Duration) *NodeCounts {
	t.Helper()
	return opened(t, func(ctx context.Context) (*NodeCounts, error) { return n.NodeCounts(ctx, ttl) })
}

func putCounts(t *testing.T, c *NodeCounts, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Put(ctx, []byte(v)); err != nil {
		t.Fatal(err)
	}
}

// othersAre polls c until the other nodes' values are want (node → value).
func othersAre(t *testing.T, c *NodeCounts, what string, want map[string]string) {
	t.Helper()
	var got map[string]string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = map[string]string{}
		for _, v := range c.Others() {
			got[v.Node] = string(v.Data)
		}
		if len(got) == len(want) {
			same := true
			for k, v := range want {
				same = same && got[k] == v
			}
			if same {
				return
			}
		}
	}
	t.Fatalf("%s: node %s sees %v, want %v", what, c.node.Name, got, want)
}

// Each node sees the other nodes' latest counts, not its own; a node that
// closes takes its counts away at once; one that stops writing (killed) is
// left out once its value is older than the TTL, and comes back when it
// writes again.
func TestNodeCounts(t *testing.T) {
	c := natstest.Cluster(t, 3)
	const ttl = 2 * time.Second
	a := openCounts(t, testNode(t, "a", c.URL(0)), ttl)
	b := openCounts(t, testNode(t, "b.example:1", c.URL(1)), ttl) // any name
	putCounts(t, a, "a1")
	putCounts(t, b, "b1")
	putCounts(t, a, "a2")
	othersAre(t, a, "both wrote", map[string]string{"b.example:1": "b1"})
	othersAre(t, b, "both wrote", map[string]string{"a": "a2"})

	late := openCounts(t, testNode(t, "late", c.URL(2)), ttl)
	othersAre(t, late, "opened after they wrote", map[string]string{"a": "a2", "b.example:1": "b1"})
	putCounts(t, late, "l1")
	othersAre(t, a, "a third node", map[string]string{"b.example:1": "b1", "late": "l1"})
	late.Close()
	othersAre(t, a, "the third node closed", map[string]string{"b.example:1": "b1"})

	// b stops writing, as a killed node does: a leaves it out after the TTL.
	othersAre(t, a, "b silent past the TTL", map[string]string{})
	putCounts(t, b, "b2")
	othersAre(t, a, "b writes again", map[string]string{"b.example:1": "b2"})
}
