package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
)

// cueRecorder collects what a captions log delivers, as "stage:record".
type cueRecorder struct{ r *recorder }

func (c cueRecorder) deliver(stage string, rec []byte) {
	c.r.deliver([]byte(stage + ":" + string(rec)))
}

func openCaptions(t *testing.T, n *Node) (*CaptionLog, *recorder) {
	t.Helper()
	r := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := n.OpenCaptions(ctx, 0, cueRecorder{r}.deliver)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, r
}

func appendCue(t *testing.T, l *CaptionLog, stage, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Append(ctx, stage, id, []byte(id)); err != nil {
		t.Fatalf("append %s on %s: %v", id, stage, err)
	}
}

// Two nodes post cues on two stages at once: both deliver every cue with
// its stage, in one order, each Append returning once its own node has it;
// a retry (same id) is stored once. A node that opens the log later, or
// opens it again after it was closed (a restart), catches up: it delivers
// every cue, in the same order, before OpenCaptions returns; CatchUp waits
// for a cue another node posted.
func TestCaptionLog_Append(t *testing.T) {
	c := natstest.Cluster(t, 3)
	a := testNode(t, "a", c.URL(0))
	b := testNode(t, "b", c.URL(1))
	la, ra := openCaptions(t, a)
	lb, rb := openCaptions(t, b)
	if r := la.log.str.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("captions stream replicas = %d, want 3 (as the chat stream's)", r)
	}

	const each = 10
	var wg sync.WaitGroup
	for _, n := range []struct {
		name, stage string
		l           *CaptionLog
		r           *recorder
	}{{"a", "main", la, ra}, {"b", "side", lb, rb}} {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("%s-%d", n.name, i)
				appendCue(t, n.l, n.stage, id)
				if !strings.Contains(strings.Join(n.r.records(), ","), n.stage+":"+id) {
					t.Errorf("Append of %s returned before its node delivered it", id)
				}
			}
		})
	}
	wg.Wait()
	appendCue(t, la, "main", "a-0") // a retry after a lost acknowledgement
	appendCue(t, la, "main", "last")

	gotA, gotB := ra.waitFor(t, 2*each+1), rb.waitFor(t, 2*each+1)
	if strings.Join(gotA, ",") != strings.Join(gotB, ",") {
		t.Fatalf("nodes delivered different orders:\na %q\nb %q", gotA, gotB)
	}
	if len(gotA) != 2*each+1 || gotA[len(gotA)-1] != "main:last" {
		t.Fatalf("delivered %d cues %q, want %d with the retried one once", len(gotA), gotA, 2*each+1)
	}
	for _, rec := range gotA {
		if strings.HasPrefix(rec, "main:b-") || strings.HasPrefix(rec, "side:a-") {
			t.Fatalf("a cue delivered with another stage: %q", gotA)
		}
	}

	// b restarts: closed, a cue posted meanwhile, opened again.
	if err := lb.Close(); err != nil {
		t.Fatal(err)
	}
	appendCue(t, la, "side", "while-b-was-away")
	want := strings.Join(append(gotA, "side:while-b-was-away"), ",")
	_, rb2 := openCaptions(t, b)
	if got := strings.Join(rb2.records(), ","); got != want {
		t.Fatalf("replay on reopen = %q\nwant %q", got, want)
	}
	// A node that starts now has them all too; CatchUp waits for a cue
	// posted on another node.
	fresh := testNode(t, "c", c.URL(2))
	lc, rc := openCaptions(t, fresh)
	if got := strings.Join(rc.records(), ","); got != want {
		t.Fatalf("replay on a new node = %q\nwant %q", got, want)
	}
	appendCue(t, la, "main", "after")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := lc.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rc.records(); got[len(got)-1] != "main:after" {
		t.Fatalf("after CatchUp the new node's last cue is %q, want main:after", got[len(got)-1])
	}
}
