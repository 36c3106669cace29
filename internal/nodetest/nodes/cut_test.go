package nodes

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/internal/nodetest"
)

// Node A is cut off from NATS for 30 s while it ingests a talk and its
// viewers chat, then comes back. During the cut A loses its ingest lease:
// it ends its publish with a log line saying so, and the publisher,
// restarted against B, is accepted there once the lease has expired.
// Messages acknowledged on either side reach both nodes' viewers once, in
// one order, and the talk's chat.jsonl; the talk stopped after A's return
// is stopped for A's viewers too.
func TestNodes_cutFromNATS(t *testing.T) {
	t.Parallel()
	d := nodetest.Start(t, nodetest.Options{Nodes: 2, Cuttable: true, Setup: createTalk(t, "panel"), Args: []string{"-segment", "1s"}})
	a, b := d.Node(0), d.Node(1)
	if code, m := b.API("POST", "/api/talks/panel/start", ""); code != 200 {
		t.Fatalf("start the talk on node B: %d %v", code, m)
	}
	first := publish(t, a)
	waitSegments(t, d.Bucket, 3)
	wa, wb := a.Dial("watch-a"), b.Dial("watch-b")

	var (
		mu     sync.Mutex
		acked  []string
		failed []string // answered with an error: the sender was told to send again
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range []*nodetest.Node{a, b} {
		v := n.Dial("talker-" + n.Name)
		wg.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				text := fmt.Sprintf("%s #%d", v.Name, k)
				ok := v.Send(text)
				mu.Lock()
				if ok {
					acked = append(acked, text)
				} else {
					failed = append(failed, text)
				}
				mu.Unlock()
			}
		})
	}

	a.CutNATS()
	cut := time.Now()
	a.WaitLog("ingest lease lost", 30*time.Second)
	t.Logf("node A saw its lease lost %v after the cut", time.Since(cut).Round(100*time.Millisecond))
	if err := first.Wait(t, 10*time.Second); err == nil {
		t.Error("the publisher to node A exited cleanly after A lost the stage")
	}
	// The encoder reconnects, to B, until B takes the stage.
	takeStage(t, b, "A's cut")
	t.Logf("publisher back on node B %v after the cut", time.Since(cut).Round(100*time.Millisecond))
	select {
	case <-time.After(30*time.Second - time.Since(cut)): // the cut lasts 30 s
	case <-t.Context().Done():
	}
	a.RestoreNATS()
	a.WaitLog("NATS connection back", time.Minute)
	// A few more seconds of chat on both sides after the return.
	mu.Lock()
	n0 := len(acked)
	mu.Unlock()
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= n0+6 {
			break
		}
		time.Sleep(200 * time.Millisecond) // the talkers post every second
	}
	close(stop)
	wg.Wait()
	t.Logf("%d messages acknowledged, %d answered with an error (most on A during the cut)", len(acked), len(failed))

	wa.WaitTexts(acked)
	wb.WaitTexts(acked)
	ida, texts := wa.ChatIDs()
	idb, _ := wb.ChatIDs()
	if !slices.Equal(ida, idb) {
		t.Errorf("the nodes' viewers were shown different messages or orders:\nA %v\nB %v", ida, idb)
	}
	seen := map[string]bool{}
	for _, id := range ida {
		if seen[id] {
			t.Errorf("watch-a was shown %q twice", texts[id])
		}
		seen[id] = true
	}
	for _, id := range ida {
		if slices.Contains(failed, texts[id]) {
			t.Logf("%q was answered with an error, yet stored (its acknowledgement was lost in the cut)", texts[id])
		}
	}

	// The talk stopped through B after A's return reaches A's viewer; the
	// chat archive holds every acknowledged message once.
	if code, m := b.API("POST", "/api/talks/panel/stop", ""); code != 200 {
		t.Fatalf("stop the talk on node B: %d %v", code, m)
	}
	wa.Until("the talk stopped", func(f nodetest.Frame) bool { return f["type"] == "talk" && f["talk"] == nil })
	checkStoredChat(t, readChat(t, d.Bucket, "panel"), acked)
}
