package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/salon/salon/internal/natstest"
)

func testLeases(t *testing.T, n *Node, ttl time.Duration) *Leases {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := n.IngestLeases(ctx, ttl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// One node ingests a stage: another node's claim is refused while the
// lease is held (and renewed past its TTL), and succeeds once it is
// released; claims of one node count up and down.
func TestLeases_Claim(t *testing.T) {
	c := natstest.Cluster(t, 3)
	a, b := testNode(t, "a", c.URL(0)), testNode(t, "b", c.URL(1))
	const ttl = 2 * time.Second
	la, lb := testLeases(t, a, ttl), testLeases(t, b, ttl)

	if err := la.Claim("main"); err != nil {
		t.Fatal(err)
	}
	if err := la.Claim("main"); err != nil { // a rendition on the same node
		t.Fatalf("second claim on the same node: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Watch the key from here on, to see the lease renewed and deleted.
	w, err := lb.kv.Watch(ctx, "main", jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := lb.Claim("main"); !errors.Is(err, ErrLeased) {
		t.Fatalf("claim of a leased stage on another node = %v, want ErrLeased", err)
	}
	// Renewed: two updates by a, which outlive the TTL, and b is still refused.
	for range 2 {
		e := <-w.Updates()
		if e == nil || e.Operation() != jetstream.KeyValuePut || string(e.Value()) != "a" {
			t.Fatalf("watch: %v, want a renewal by a", e)
		}
	}
	if err := lb.Claim("main"); !errors.Is(err, ErrLeased) {
		t.Fatalf("claim after a renewal = %v, want ErrLeased", err)
	}
	if h, err := lb.Holder(ctx, "main"); err != nil || h != "a" {
		t.Fatalf("Holder = %q %v, want a", h, err)
	}
	la.Release("main")
	if err := lb.Claim("main"); !errors.Is(err, ErrLeased) {
		t.Fatalf("claim while a still holds one claim = %v, want ErrLeased", err)
	}
	la.Release("main")
	for e := range w.Updates() {
		if e != nil && e.Operation() == jetstream.KeyValueDelete {
			break
		}
	}
	if err := lb.Claim("main"); err != nil {
		t.Fatalf("claim after a released the stage: %v", err)
	}
	lb.Release("main")
}

// A node lost (its leases no longer renewed) frees its stages after the
// TTL: another node can take them.
func TestLeases_nodeLost(t *testing.T) {
	c := natstest.Cluster(t, 3)
	a, b := testNode(t, "a", c.URL(0)), testNode(t, "b", c.URL(1))
	const ttl = 2 * time.Second
	la, lb := testLeases(t, a, ttl), testLeases(t, b, ttl)
	if err := la.Claim("main"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	la.Close() // renewals stop, as when a node dies
	a.Close()
	if err := lb.Claim("main"); !errors.Is(err, ErrLeased) {
		t.Fatalf("claim right after the node was lost = %v, want ErrLeased until the TTL", err)
	}
	// Nothing announces an expiry: claim again until it works.
	for {
		err := lb.Claim("main")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLeased) || time.Since(start) > 10*ttl {
			t.Fatalf("claim %v after the node was lost: %v", time.Since(start), err)
		}
		time.Sleep(ttl / 10)
	}
	t.Logf("the stage was free %v after the node was lost (TTL %v)", time.Since(start).Round(100*time.Millisecond), ttl)
}
