package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/salon/salon/internal/natstest"
)

func testLeases(t *testing.T, n *Node, ttl time.Duration) *Leases {
	t.Helper()
	return opened(t, func(ctx context.Context) (*Leases, error) { return n.IngestLeases(ctx, ttl) })
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
		if e == nil || e.Operation() != jetstream.KeyValuePut || ParseOwner(e.Value()).Node != "a" {
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

// A lease's value names the node and its URL; every node sees the current
// owners without asking NATS, including a value an older salon wrote (the
// node's name alone).
func TestLeases_Owner(t *testing.T) {
	c := natstest.Cluster(t, 3)
	a, b := testNode(t, "a", c.URL(0)), testNode(t, "b", c.URL(1))
	la, lb := testLeases(t, a, 3*time.Second), testLeases(t, b, 3*time.Second)
	la.SetURL("http://10.0.0.1:8080")
	before := time.Now().UTC()
	if err := la.Claim("main"); err != nil {
		t.Fatal(err)
	}
	o := waitOwner(t, lb, "main", func(o Owner) bool { return o.Node == "a" })
	if o.URL != "http://10.0.0.1:8080" || o.Since.Before(before.Add(-time.Second)) {
		t.Fatalf("owner of main seen on b = %+v, want node a at http://10.0.0.1:8080 since the claim", o)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := lb.kv.Put(ctx, "hall", []byte("old-node")); err != nil {
		t.Fatal(err)
	}
	if o := waitOwner(t, la, "hall", func(o Owner) bool { return true }); o != (Owner{Node: "old-node"}) {
		t.Fatalf("owner of a plain-name lease = %+v, want old-node without URL", o)
	}
	if err := la.Claim("hall"); !errors.Is(err, ErrLeased) || !strings.Contains(err.Error(), `"old-node"`) {
		t.Fatalf("claim of a stage an older salon holds = %v, want ErrLeased naming old-node", err)
	}
	if got := lb.Owners(); len(got) != 2 || got[0].Stage != "hall" || got[1].Stage != "main" {
		t.Fatalf("Owners = %+v, want hall and main", got)
	}

	la.Release("main")
	for {
		if _, ok := lb.Owner("main"); !ok {
			break
		}
		select {
		case <-lb.OwnersChanged():
		case <-ctx.Done():
			t.Fatal("b still sees a's released lease")
		}
	}
}

// waitOwner waits until l sees stage's lease and ok accepts it.
func waitOwner(t *testing.T, l *Leases, stage string, ok func(Owner) bool) Owner {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ch := l.OwnersChanged()
		if o, found := l.Owner(stage); found && ok(o) {
			return o
		}
		select {
		case <-ch:
		case <-deadline:
			o, _ := l.Owner(stage)
			t.Fatalf("lease of %s not seen: %+v", stage, o)
		}
	}
}

func TestParseOwner(t *testing.T) {
	since := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want Owner
	}{
		{"node-a", Owner{Node: "node-a"}},
		{`{"node":"b","url":"http://10.0.0.2:8080","since":"2026-12-02T09:30:00Z"}`, Owner{Node: "b", URL: "http://10.0.0.2:8080", Since: since}},
		{`{"node":"c"}`, Owner{Node: "c"}},
		{`{"url":"http://x"}`, Owner{Node: `{"url":"http://x"}`}}, // no node: kept whole, never matches a node
		{`{broken`, Owner{Node: `{broken`}},
	}
	for _, tc := range cases {
		if got := ParseOwner([]byte(tc.in)); got != tc.want {
			t.Errorf("ParseOwner(%s) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	o := Owner{Node: "b", URL: "http://10.0.0.2:8080", Since: since}
	if got := ParseOwner(o.encode()); got != o {
		t.Errorf("round trip: %+v, want %+v", got, o)
	}
}

// A node loses a stage it holds when another node's value replaces its
// lease, or when it cannot renew the lease for TTL (cut off from NATS):
// Lost says so, with why, and the node refuses the stage until its claims
// are released. Cut off from NATS, it refuses to take any stage at once.
func TestLeases_lost(t *testing.T) {
	c := natstest.Cluster(t, 3)
	a, b := testNode(t, "a", c.URL(0)), testNode(t, "b", c.URL(1))
	// Long enough that a busy machine renews it in time: "side" must be lost
	// to b's value, not to an expiry.
	const ttl = 4 * time.Second
	type loss struct {
		stage string
		err   error
	}
	lost := make(chan loss, 4)
	la, lb := testLeases(t, a, ttl), testLeases(t, b, ttl)
	la.Lost = func(stage string, err error) { lost <- loss{stage, err} }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Taken over: b writes the lease of "side" (as a node would that took
	// it after a's lease expired).
	if err := la.Claim("side"); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.kv.Put(ctx, "side", []byte("b")); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-lost:
		if l.stage != "side" || !strings.Contains(l.err.Error(), `node "b" holds it now`) {
			t.Fatalf("lost %s: %v, want side, held by b", l.stage, l.err)
		}
	case <-time.After(10 * ttl):
		t.Fatal("a did not see that b took stage side")
	}
	if err := la.Claim("side"); !errors.Is(err, ErrLeased) {
		t.Fatalf("claim of a lost stage before its release = %v, want ErrLeased", err)
	}
	la.Release("side")

	// Cut off: a's connection to NATS ends (killing its server would not
	// do: the client knows the cluster's other servers and moves to one).
	if err := la.Claim("main"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a.nc.Close()
	select {
	case l := <-lost:
		took := time.Since(start)
		if l.stage != "main" || !strings.Contains(l.err.Error(), "could not be renewed") {
			t.Fatalf("lost %s: %v, want main, not renewed", l.stage, l.err)
		}
		t.Logf("lease lost %v after the cut: %v", took.Round(10*time.Millisecond), l.err)
	case <-time.After(10 * ttl):
		t.Fatal("a did not see that it lost stage main")
	}
	err := la.Claim("other")
	if err == nil || errors.Is(err, ErrLeased) || !strings.Contains(err.Error(), "not connected to NATS") {
		// (Closed here; a node cut off is reconnecting: the same refusal.)
		t.Fatalf("claim while cut off from NATS = %v, want a refusal saying NATS is unreachable", err)
	}
	la.Release("main")
	// Nothing announces an expiry: b claims again until it works.
	for {
		err := lb.Claim("main")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLeased) || time.Since(start) > 10*ttl {
			t.Fatalf("claim by b %v after a was cut off: %v", time.Since(start), err)
		}
		time.Sleep(ttl / 10)
	}
	lb.Release("main")
}
