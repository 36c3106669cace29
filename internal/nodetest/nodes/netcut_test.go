package nodes

import (
	"slices"
	"testing"
	"time"

	"github.com/salon/salon/internal/nodetest"
)

// Node A, in a network namespace of its own, loses its whole network for
// 30 s (its veth pair down) while it ingests a talk and its viewers chat,
// then comes back. The publisher and A's viewers go to B (their own
// timeouts would tell them); A loses its ingest lease and ends its
// publish; the talk is stopped through B during the cut. Back, A has
// caught up: a viewer on A is shown every acknowledged message once, in
// B's order, and the talk as stopped.
func TestNodes_networkCut(t *testing.T) {
	t.Parallel()
	d := nodetest.Start(t, nodetest.Options{Nodes: 2, Netns: true, Setup: createTalk(t, "closing"), Args: []string{"-segment", "1s"}})
	a, b := d.Node(0), d.Node(1)
	if code, m := b.API("POST", "/api/talks/closing/start", ""); code != 200 {
		t.Fatalf("start the talk on node B: %d %v", code, m)
	}
	first := publish(t, a)
	waitSegments(t, d.Bucket, 3)
	wb := b.Dial("watch-b")
	onA, onB := talk(a.Dial("talker-a")), talk(b.Dial("talker-b"))
	for len(wb.Frames()) < 8 { // a few messages from both sides first
		wb.Until("chat", func(f nodetest.Frame) bool { return f["type"] == "chat" })
		time.Sleep(500 * time.Millisecond) // the talkers post every second
	}

	a.CutNetwork()
	cut := time.Now()
	ackedA, _ := onA.end() // its browser gives up on node A…
	onA2 := talk(b.Dial("talker-a-moved"))
	first.Cmd.Process.Kill() // …and so does the encoder, which reconnects to B
	takeStage(t, b, "A's cut")
	t.Logf("publisher back on node B %v after the cut", time.Since(cut).Round(100*time.Millisecond))
	a.WaitLog("ingest lease lost", 30*time.Second)
	waitSegments(t, d.Bucket, 3)
	if code, m := b.API("POST", "/api/talks/closing/stop", ""); code != 200 {
		t.Fatalf("stop the talk on node B: %d %v", code, m)
	}
	wb.Until("the talk stopped", func(f nodetest.Frame) bool { return f["type"] == "talk" && f["talk"] == nil })
	ackedA2, _ := onA2.end()
	ackedB, _ := onB.end()
	acked := slices.Concat(ackedA, ackedA2, ackedB)

	select {
	case <-time.After(30*time.Second - time.Since(cut)): // the cut lasts 30 s
	case <-t.Context().Done():
	}
	a.RestoreNetwork()
	back := time.Now()
	a.WaitLog("chat log consumer recreated", 2*time.Minute)
	t.Logf("node A's chat back %v after the network", time.Since(back).Round(100*time.Millisecond))

	// The talk stopped during the cut: A's rooms learn it (converge) once
	// A has caught up.
	late := a.Dial("late-a")
	late.Until("the talk stopped on node A", func(f nodetest.Frame) bool {
		_, has := f["talk"]
		return (f["type"] == "welcome" || f["type"] == "talk") && has && f["talk"] == nil
	})
	t.Logf("node A shows the talk stopped %v after the network", time.Since(back).Round(100*time.Millisecond))
	late.WaitTexts(acked)
	ids, texts := late.ChatIDs()
	ref, _ := wb.ChatIDs()
	pos := map[string]int{}
	for i, id := range ref {
		pos[id] = i
	}
	last, seen := -1, map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("node A shows %q twice", texts[id])
		}
		seen[id] = true
		p, ok := pos[id]
		if !ok {
			continue // before watch-b joined
		}
		if p < last {
			t.Errorf("node A shows %q out of node B's order", texts[id])
		}
		last = p
	}
	checkStoredChat(t, readChat(t, d.Bucket, "closing"), acked)
	t.Logf("%d messages acknowledged, all in chat.jsonl and on node A after its return", len(acked))
}
