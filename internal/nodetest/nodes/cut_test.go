package nodes

import (
	"slices"
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

	onA, onB := talk(a.Dial("talker-a")), talk(b.Dial("talker-b"))

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
	n0 := onA.acknowledged() + onB.acknowledged()
	for onA.acknowledged()+onB.acknowledged() < n0+6 {
		time.Sleep(200 * time.Millisecond) // the talkers post every second
	}
	ackedA, failedA := onA.end()
	ackedB, failedB := onB.end()
	acked, failed := slices.Concat(ackedA, ackedB), slices.Concat(failedA, failedB)
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
