package nodes

import (
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/internal/nodetest"
)

// A talk is stopped on node A, which is killed (SIGKILL) the moment the
// stop is acknowledged: its end-of-talk job has not finished (the replay
// cannot be final before the stage's next segment is stored, on node B,
// which ingests it). Node B takes the job over once A's claim on it
// lapsed, and finishes it: the talk's chat.jsonl holds every message the
// chat acknowledged during the talk, on either node, and the replay is
// final.
func TestNodes_endJobTakenOver(t *testing.T) {
	t.Parallel()
	d := nodetest.Start(t, nodetest.Options{Nodes: 2, NATSServers: 1, Setup: createTalk(t, "closing"), Args: []string{"-segment", "1s"}})
	a, b := d.Node(0), d.Node(1)
	pub := publish(t, b)
	defer pub.Cmd.Process.Kill()
	b.WaitLog("publish started", 30*time.Second)
	if code, m := a.API("POST", "/api/talks/closing/start", ""); code != 200 {
		t.Fatalf("start the talk on node A: %d %v", code, m)
	}
	isClosing := func(f nodetest.Frame) bool {
		talk, _ := f["talk"].(map[string]any)
		return (f["type"] == "talk" || f["type"] == "welcome") && talk != nil && talk["id"] == "closing"
	}
	var acked []string
	for _, n := range []*nodetest.Node{a, b} {
		v := n.Dial("viewer-" + n.Name)
		v.Until("the talk live", isClosing)
		for k := range 2 {
			text := v.Name + " #" + string(rune('0'+k))
			if !v.Send(text) {
				t.Fatalf("%s: message %q not acknowledged", v.Name, text)
			}
			acked = append(acked, text)
		}
		v.Close()
	}

	if code, m := a.API("POST", "/api/talks/closing/stop", ""); code != 200 {
		t.Fatalf("stop the talk on node A: %d %v", code, m)
	}
	a.Kill()
	killed := time.Now()
	if strings.Contains(a.Log(), "talk replay final") {
		t.Fatal("node A finished the job before it was killed; the test proves nothing")
	}
	b.WaitLog("end-of-talk job taken over", time.Minute)
	t.Logf("node B took the job over %v after node A was killed (node A had archived the chat: %v)",
		time.Since(killed).Round(100*time.Millisecond), strings.Contains(a.Log(), "talk chat archived"))
	replay := waitReplay(t, d.Bucket, "closing")
	checkStoredChat(t, readChat(t, d.Bucket, "closing"), acked)
	if len(replay.Segments) == 0 {
		t.Fatal("the replay has no segment")
	}
	b.WaitLog("talk replay final", time.Minute)
}
