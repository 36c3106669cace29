package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
)

// changes collects a Leader's OnChange calls.
type changes struct {
	mu  sync.Mutex
	got []bool
	c   chan struct{}
}

func newChanges() *changes { return &changes{c: make(chan struct{}, 16)} }

func (c *changes) on(leading bool) {
	c.mu.Lock()
	c.got = append(c.got, leading)
	c.mu.Unlock()
	c.c <- struct{}{}
}

// await waits for the next OnChange call and checks it.
func (c *changes) await(t *testing.T, what string, want bool) {
	t.Helper()
	select {
	case <-c.c:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no leadership change after 30 s", what)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := c.got[len(c.got)-1]; got != want {
		t.Fatalf("%s: leading = %v, want %v", what, got, want)
	}
}

// One of three nodes leads; when it is lost (its connection dropped, its
// lease not given up) another takes over after the TTL; a node that closes
// gives the lead up at once.
func TestLeader_Failover(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	const ttl = 1500 * time.Millisecond
	var nodes []*Node
	var leaders []*Leader
	var chs []*changes
	for i, name := range []string{"a", "b", "c"} {
		n := testNode(t, name, servers.URL(i))
		ch := newChanges()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		l, err := n.LeaderElection(ctx, ttl, ch.on)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		if i == 0 {
			ch.await(t, "first node", true) // alone: it leads
		}
		nodes, leaders, chs = append(nodes, n), append(leaders, l), append(chs, ch)
	}
	if leaders[1].Leading() || leaders[2].Leading() {
		t.Fatal("a second node leads while the first renews its lease")
	}

	// a is lost: its lease expires, and b or c leads (one of them).
	leaders[0].cancel() // stops renewing, as a dead node would
	leaders[0].wg.Wait()
	nodes[0].nc.Close()
	next := -1
	select {
	case <-chs[1].c:
		next = 1
	case <-chs[2].c:
		next = 2
	case <-time.After(30 * time.Second):
		t.Fatal("nobody took the lead after the leader was lost")
	}
	other := 3 - next
	if !leaders[next].Leading() || leaders[other].Leading() {
		t.Fatalf("after the loss: b leads %v, c leads %v; want exactly one", leaders[1].Leading(), leaders[2].Leading())
	}
	// The other node learns who leads (its server's copy of the bucket may
	// lag the leader's write by a moment).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		h, err := leaders[other].Holder(ctx)
		if err == nil && h == nodes[next].Name {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("holder = %q, %v; want %s", h, err, nodes[next].Name)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The leader closes: the other takes over without waiting for the TTL.
	start := time.Now()
	leaders[next].Close()
	chs[other].await(t, "after the leader closed", true)
	if d := time.Since(start); d > ttl {
		t.Logf("took over %v after a close (TTL %v): the lease was not given up?", d, ttl)
	}
}

// A talk notice from one node makes the others read the talk again, not
// the sender; the whole library is read again when the connection comes
// back after its server was lost.
func TestTalkSync_Notices(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	type call struct{ node, id string }
	calls := make(chan call, 64)
	var syncs []*TalkSync
	for i, name := range []string{"a", "b", "c"} {
		n := testNode(t, name, servers.URL(i))
		s := n.TalkSync(time.Hour)
		if err := s.Start(
			func(_ context.Context, id string) error { calls <- call{name, id}; return nil },
			func(context.Context) error { calls <- call{name, "*"}; return nil },
		); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		syncs = append(syncs, s)
	}
	// A notice is published without an acknowledgement (one published
	// while the stream elects a leader is lost, and caught up by the next
	// resync): it is sent again until it arrived.
	await := func(send func(), wants ...call) {
		t.Helper()
		missing := map[call]bool{}
		for _, w := range wants {
			missing[w] = true
		}
		deadline := time.After(30 * time.Second)
		for len(missing) > 0 {
			if send != nil {
				send()
			}
			resend := time.After(250 * time.Millisecond)
		wait:
			for len(missing) > 0 {
				select {
				case c := <-calls:
					if c.node == "a" && c.id != "*" {
						t.Fatalf("the sender read its own change again: %v", c)
					}
					delete(missing, c)
				case <-resend:
					break wait
				case <-deadline:
					t.Fatalf("still missing %v after 30 s", missing)
				}
			}
		}
	}
	await(func() { syncs[0].Changed("opening") }, call{"b", "opening"}, call{"c", "opening"})

	// c's server is lost and comes back: c reads everything again.
	servers.Kill(2)
	servers.Start(2)
	await(nil, call{"c", "*"})
	await(func() { syncs[0].Changed("after") }, call{"c", "after"})
}

// A flag set on one node reaches the others' watchers; a node that opens
// the settings later gets it in its initial state.
func TestSettings_Shared(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := testNode(t, "a", servers.URL(0)), testNode(t, "b", servers.URL(0))
	sa, _, err := a.ProgrammeSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sa.Close)
	sb, initial, err := b.ProgrammeSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	if len(initial) != 0 {
		t.Fatalf("initial flags of a new bucket: %v", initial)
	}
	type flag struct {
		key string
		on  bool
	}
	got := make(chan flag, 16)
	sb.Watch(func(k string, on bool) { got <- flag{k, on} })
	for _, f := range []flag{{"auto.main", true}, {"started.keynote", true}, {"auto.main", false}} {
		if err := sa.Set(f.key, f.on); err != nil {
			t.Fatal(err)
		}
		select {
		case g := <-got:
			if g != f {
				t.Fatalf("b saw %v, want %v", g, f)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("b did not see %v", f)
		}
	}
	c := testNode(t, "c", servers.URL(0))
	sc, initial, err := c.ProgrammeSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Close)
	if len(initial) != 1 || !initial["started.keynote"] {
		t.Fatalf("initial flags on a later node: %v, want started.keynote only", initial)
	}
}
