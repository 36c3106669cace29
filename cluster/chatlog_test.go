package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
)

// testNode joins a node to the servers at urls; closed with the test.
func testNode(t *testing.T, name, urls string) *Node {
	t.Helper()
	n := &Node{URLs: urls, Name: name, Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// opened opens what a node serves (a bucket, a board) with open, fails the
// test if it cannot within 30 s, and closes it when the test ends.
func opened[T interface{ Close() }](t *testing.T, open func(context.Context) (T, error)) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// recorder collects what a log delivers.
type recorder struct {
	mu      sync.Mutex
	got     []string
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) deliver(rec []byte) {
	r.mu.Lock()
	r.got = append(r.got, string(rec))
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) records() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// waitFor waits until n records were delivered.
func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		got, ch := len(r.got), r.changed
		r.mu.Unlock()
		if got >= n {
			return r.records()
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d records delivered, want %d: %q", got, n, r.records())
		}
	}
}

func openChat(t *testing.T, n *Node, stage string) (*ChatLog, *recorder) {
	t.Helper()
	r := newRecorder()
	l, err := n.OpenChat(stage, r.deliver)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, r
}

func appendOK(t *testing.T, l *ChatLog, id, rec string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Append(ctx, id, []byte(rec)); err != nil {
		t.Fatalf("append %s: %v", id, err)
	}
}

// Two nodes on different servers append at once: both deliver every
// record, in one order, and an Append returns only once its own node has
// delivered it. A stage's log holds only that stage's records. A retried
// append (same id) is stored once. A node opened later rebuilds the room
// from the stream, in the same order.
func TestChatLog_Append(t *testing.T) {
	c := natstest.Cluster(t, 3)
	a := testNode(t, "a", c.URL(0))
	b := testNode(t, "b", c.URL(1))
	if r := a.chat.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("chat stream replicas = %d, want 3 on a cluster of 3", r)
	}
	la, ra := openChat(t, a, "main")
	lb, rb := openChat(t, b, "main")
	_, rOther := openChat(t, b, "side")

	const each = 20
	var wg sync.WaitGroup
	for _, n := range []struct {
		name string
		l    *ChatLog
		r    *recorder
	}{{"a", la, ra}, {"b", lb, rb}} {
		wg.Go(func() {
			for i := range each {
				rec := fmt.Sprintf("%s-%d", n.name, i)
				appendOK(t, n.l, rec, rec)
				if !strings.Contains(strings.Join(n.r.records(), ","), rec) {
					t.Errorf("Append of %s returned before its node delivered it", rec)
				}
			}
		})
	}
	wg.Wait()
	// The same id again: a retry after a lost acknowledgement.
	appendOK(t, la, "a-0", "a-0")
	appendOK(t, la, "last", "last")

	gotA, gotB := ra.waitFor(t, 2*each+1), rb.waitFor(t, 2*each+1)
	if strings.Join(gotA, ",") != strings.Join(gotB, ",") {
		t.Fatalf("nodes delivered different orders:\na %q\nb %q", gotA, gotB)
	}
	if len(gotA) != 2*each+1 || gotA[len(gotA)-1] != "last" {
		t.Fatalf("delivered %d records %q, want %d with the retried one once", len(gotA), gotA, 2*each+1)
	}
	// Each node's own records keep the order it appended them in.
	for _, who := range []string{"a", "b"} {
		next := 0
		for _, rec := range gotA {
			if strings.HasPrefix(rec, who+"-") {
				if rec != fmt.Sprintf("%s-%d", who, next) {
					t.Fatalf("%s's records out of order: %q", who, gotA)
				}
				next++
			}
		}
	}
	if got := rOther.records(); len(got) != 0 {
		t.Errorf("stage side got main's records: %q", got)
	}

	// A node that (re)starts rebuilds the room from the stream.
	c3 := testNode(t, "c", c.URL(2))
	_, r3 := openChat(t, c3, "main")
	if got := r3.records(); strings.Join(got, ",") != strings.Join(gotA, ",") {
		t.Fatalf("replay on open = %q, want %q", got, gotA)
	}
}

// A server killed while nodes append loses no acknowledged record: every
// record whose Append returned is delivered on every node, in one order,
// and replayed by a node that opens the log afterwards.
func TestChatLog_serverLost(t *testing.T) {
	c := natstest.Cluster(t, 3)
	a := testNode(t, "a", c.URLs())
	b := testNode(t, "b", c.URL(2))
	la, ra := openChat(t, a, "main")
	_, rb := openChat(t, b, "main")

	var acked []string
	for i := range 30 {
		if i == 10 {
			// The server node a is connected to, or another: either way a
			// replica, maybe the leader, is gone.
			c.Kill(0)
		}
		if i == 20 {
			c.Start(0)
		}
		rec := fmt.Sprintf("m%02d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := la.Append(ctx, rec, []byte(rec))
		cancel()
		if err != nil {
			t.Logf("append %s not acknowledged: %v", rec, err)
			continue
		}
		acked = append(acked, rec)
	}
	if len(acked) < 25 {
		t.Fatalf("only %d of 30 appends acknowledged with 2 of 3 servers up: %q", len(acked), acked)
	}
	contains := func(got []string) bool {
		all := "," + strings.Join(got, ",") + ","
		for _, rec := range acked {
			if !strings.Contains(all, ","+rec+",") {
				return false
			}
		}
		return true
	}
	gotA := ra.waitFor(t, len(acked))
	gotB := rb.waitFor(t, len(acked))
	if !contains(gotA) || !contains(gotB) || strings.Join(gotA, ",") != strings.Join(gotB, ",") {
		t.Fatalf("acknowledged %q\nnode a delivered %q\nnode b delivered %q", acked, gotA, gotB)
	}
	for i := 1; i < len(gotA); i++ {
		if gotA[i] <= gotA[i-1] {
			t.Fatalf("delivered out of order or twice: %q", gotA)
		}
	}
	fresh := testNode(t, "fresh", c.URL(1))
	_, rf := openChat(t, fresh, "main")
	if got := rf.records(); strings.Join(got, ",") != strings.Join(gotA, ",") {
		t.Fatalf("replay after the loss = %q, want %q", got, gotA)
	}
}

// Without servers, joining fails with a message that says what to check.
func TestNode_Initialize_unreachable(t *testing.T) {
	n := &Node{URLs: "nats://127.0.0.1:1", Name: "a"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n.Initialize(ctx)
	if err == nil {
		n.Close()
		t.Fatal("Initialize without a server succeeded")
	}
	if !strings.Contains(err.Error(), "-nats") {
		t.Errorf("error %q does not name -nats", err)
	}
}

// The cost of one chat record on a 3-server cluster (R3): publish, the
// stream's acknowledgement (a majority stored it) and the delivery back to
// this node; and how long the same record takes to reach another node.
func BenchmarkChatLog_Append(b *testing.B) {
	c := natstest.Cluster(b, 3)
	join := func(name, url string) *Node {
		n := &Node{URLs: url, Name: name}
		if err := n.Initialize(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(n.Close)
		return n
	}
	a, other := join("a", c.URL(0)), join("b", c.URL(1))
	la, err := a.OpenChat("bench", func([]byte) {})
	if err != nil {
		b.Fatal(err)
	}
	defer la.Close()
	arrived := make(chan struct{}, 1)
	lb, err := other.OpenChat("bench", func([]byte) { arrived <- struct{}{} })
	if err != nil {
		b.Fatal(err)
	}
	defer lb.Close()
	var acrossTotal time.Duration
	rec := []byte(`{"msg":{"id":"0123456789ab","name":"观众","text":"为什么用 fMP4？","ts":"2026-12-02T11:00:00.123Z"}}`)
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		if err := la.Append(context.Background(), fmt.Sprint("bench-", i), rec); err != nil {
			b.Fatal(err)
		}
		<-arrived
		acrossTotal += time.Since(start)
	}
	b.ReportMetric(float64(acrossTotal.Microseconds())/float64(i), "µs-to-other-node/op")
}
