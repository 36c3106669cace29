package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/salon/salon/internal/natstest"
)

func testJobs(t *testing.T, n *Node, ttl time.Duration) *Jobs {
	t.Helper()
	return opened(t, func(ctx context.Context) (*Jobs, error) { return n.JobBoard(ctx, ttl) })
}

// A job posted by node a stays a's while a renews it (past its TTL), and
// is taken over by exactly one of b and c once a stops renewing (as when
// it dies); the new owner renews it, and its Done deletes it.
func TestJobs_takenOverWhenOwnerStops(t *testing.T) {
	t.Parallel()
	c := natstest.Cluster(t, 1)
	const ttl = 2 * time.Second
	na, nb, nc := testNode(t, "a", c.URL(0)), testNode(t, "b", c.URL(0)), testNode(t, "c", c.URL(0))
	ja, jb, jc := testJobs(t, na, ttl), testJobs(t, nb, ttl), testJobs(t, nc, ttl)
	type adoption struct{ node, talk, job string }
	adopted := make(chan adoption, 4)
	for name, j := range map[string]*Jobs{"a": ja, "b": jb, "c": jc} {
		if err := j.Watch(func(talk string, job []byte) { adopted <- adoption{name, talk, string(job)} }); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := jb.kv.Watch(ctx, "keynote", jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const job = `{"talk":"keynote","end":"2026-12-03T10:00:00Z"}`
	if err := ja.Post(ctx, "keynote", []byte(job)); err != nil {
		t.Fatal(err)
	}
	// Renewed by a for longer than the TTL: nobody takes it over.
	put := func(who string) {
		t.Helper()
		select {
		case e := <-w.Updates():
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				t.Fatalf("watch: %v, want a renewal by %s", e, who)
			}
			if v := e.Value(); !strings.Contains(string(v), `"owner":"`+who+`"`) {
				t.Fatalf("job %s, want it %s's", v, who)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no renewal by %s", who)
		}
	}
	put("a") // the post
	for first, n := time.Now(), 0; n < 3 || time.Since(first) < ttl; n++ {
		put("a")
	}
	select {
	case ad := <-adopted:
		t.Fatalf("node %s took over a job its owner renews", ad.node)
	default:
	}

	// a stops renewing: one of b and c takes the job over, as posted.
	ja.Close()
	var ad adoption
	select {
	case ad = <-adopted:
	case <-time.After(30 * time.Second):
		t.Fatal("nobody took the job over")
	}
	if ad.node == "a" || ad.talk != "keynote" || ad.job != job {
		t.Fatalf("adoption %+v", ad)
	}
	owner, err := jb.Owner(ctx, "keynote")
	if err != nil || owner != ad.node {
		t.Fatalf("owner %q %v after %s took it over", owner, err, ad.node)
	}
	taker := map[string]*Jobs{"b": jb, "c": jc}[ad.node]
	if !taker.Owned("keynote") {
		t.Fatalf("%s does not own the job it took over", ad.node)
	}
	// The taker renews it for longer than the TTL: not taken over again.
	put(ad.node) // the takeover
	for first, n := time.Now(), 0; n < 3 || time.Since(first) < ttl; n++ {
		put(ad.node)
	}
	if owner, _ := jb.Owner(ctx, "keynote"); owner != ad.node {
		t.Fatalf("owner %q, want %s still", owner, ad.node)
	}
	select {
	case again := <-adopted:
		t.Fatalf("taken over twice: %+v after %+v", again, ad)
	default:
	}
	if err := taker.Done(ctx, "keynote"); err != nil {
		t.Fatal(err)
	}
	if owner, err := jb.Owner(ctx, "keynote"); err != nil || owner != "" {
		t.Fatalf("owner %q %v after Done, want none", owner, err)
	}
}
