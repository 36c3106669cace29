package nodes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/internal/nodetest"
)

// A node is killed (SIGKILL) while viewers on all three nodes chat during
// a talk. A message counts as acknowledged when its sender's own chat
// frame came back: the node sends it only once the message is committed to
// the deployment's chat stream. Every acknowledged message is in the
// talk's chat.jsonl afterwards, once; the killed node's viewers reconnect
// to the others and are shown every message, in the one order the
// surviving nodes agree on; the node, started again, has caught up.
func TestNodes_chatSurvivesANodeKill(t *testing.T) {
	t.Parallel()
	d := nodetest.Start(t, nodetest.Options{Setup: createTalk(t, "opening")})
	nodes := d.Nodes()
	a := nodes[0]
	// Started and stopped through B, which stays up.
	if code, m := nodes[1].API("POST", "/api/talks/opening/start", ""); code != 200 {
		t.Fatalf("start the talk on node B: %d %v", code, m)
	}
	isOpening := func(f nodetest.Frame) bool {
		talk, _ := f["talk"].(map[string]any)
		return (f["type"] == "talk" || f["type"] == "welcome") && talk != nil && talk["id"] == "opening"
	}
	var watchers []*nodetest.Viewer
	for _, n := range nodes {
		w := n.Dial("watch-" + n.Name)
		w.Until("the talk live", isOpening)
		watchers = append(watchers, w)
	}

	// Two senders per node, each posting below the chat's rate limit
	// (1.5 messages/s per connection).
	const perNode, each = 2, 12
	var (
		mu     sync.Mutex
		acked  []string
		unsure []string // sent, not acknowledged: stored or not, never twice
	)
	enough := make(chan struct{}) // closed once a third of the messages are acknowledged
	var once sync.Once
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for i := range perNode * len(nodes) {
		home := nodes[i%len(nodes)]
		v := home.Dial(fmt.Sprintf("s%d-%s", i, home.Name))
		wg.Go(func() {
			tick := time.NewTicker(700 * time.Millisecond)
			defer tick.Stop()
			for k := range each {
				<-tick.C
				text := fmt.Sprintf("%s #%d", v.Name, k)
				ok := v.Send(text)
				mu.Lock()
				if ok {
					acked = append(acked, text)
				} else {
					unsure = append(unsure, text)
				}
				if len(acked) >= perNode*len(nodes)*each/3 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
				if !ok && v.Closed() {
					// Its node was lost: the browser reconnects, through
					// the load balancer, to another node.
					<-killed
					if err := v.Redial(nodes[1+i%2]); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	<-enough
	a.Kill()
	close(killed)
	start := time.Now()
	if err := watchers[0].Redial(nodes[1]); err != nil {
		t.Fatal(err)
	}
	t.Logf("node A's watcher back on node B %v after the kill", time.Since(start).Round(time.Millisecond))
	wg.Wait()
	t.Logf("%d messages acknowledged, %d not (sent to node A as it died, or refused)", len(acked), len(unsure))
	if len(acked) < perNode*len(nodes)*each*2/3 {
		t.Errorf("only %d of %d messages acknowledged", len(acked), perNode*len(nodes)*each)
	}

	// Every viewer is shown every acknowledged message, once, in the order
	// of node B (which never left).
	for _, w := range watchers {
		w.WaitTexts(acked)
	}
	ref, _ := watchers[1].ChatIDs()
	pos := map[string]int{}
	for i, id := range ref {
		pos[id] = i
	}
	for _, w := range watchers {
		ids, texts := w.ChatIDs()
		seen := map[string]bool{}
		last := -1
		for _, id := range ids {
			if seen[id] {
				t.Errorf("%s was shown %q twice", w.Name, texts[id])
			}
			seen[id] = true
			p, ok := pos[id]
			if !ok {
				t.Errorf("%s was shown %q, which node B never showed", w.Name, texts[id])
				continue
			}
			if p < last {
				t.Errorf("%s was shown %q out of node B's order", w.Name, texts[id])
			}
			last = p
		}
	}

	// The talk stopped on node B: its chat.jsonl in the bucket holds every
	// acknowledged message once.
	if code, m := nodes[1].API("POST", "/api/talks/opening/stop", ""); code != 200 {
		t.Fatalf("stop the talk on node B: %d %v", code, m)
	}
	stored := readChat(t, d.Bucket, "opening")
	checkStoredChat(t, stored, acked)
	for _, m := range stored {
		if !slices.Contains(acked, m.Text) && !slices.Contains(unsure, m.Text) {
			t.Errorf("chat.jsonl holds %q, which nobody sent", m.Text)
		}
	}

	// Node A back: it has caught up from the stream.
	a.Start()
	late := a.Dial("late")
	late.WaitTexts(acked)
}

// storedMessage is a line of chat.jsonl, as far as the test reads it.
type storedMessage struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	Talk string `json:"talk"`
}

// readChat waits for talks/{id}/chat.jsonl (the stop's job writes it in
// the background) and decodes it.
func readChat(t *testing.T, bucket archive.Store, id string) []storedMessage {
	t.Helper()
	key := archive.ChatKey(id)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var data []byte
	for {
		rc, _, err := bucket.Get(ctx, key, 0, -1)
		if err == nil {
			data, err = io.ReadAll(rc)
			rc.Close()
			if err == nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not in the bucket within a minute: %v", key, err)
		case <-time.After(200 * time.Millisecond): // nothing announces the upload
		}
	}
	var out []storedMessage
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m storedMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: a line that does not decode: %v\n%s", key, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}
