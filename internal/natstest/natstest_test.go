package natstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A three-node cluster keeps a replicated stream's acknowledged messages,
// in order, through the loss of a node, and the node catches up when it
// comes back: what salon's clustered chat log relies on.
func TestCluster_replicatedStreamSurvivesANode(t *testing.T) {
	c := Cluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CHAT", Subjects: []string{"chat.>"}, Replicas: 3}); err != nil {
		t.Fatalf("create an R3 stream: %v", err)
	}
	// A publish is done when the stream acknowledges it. While the
	// cluster elects a new stream leader after a loss (a few seconds), a
	// publish gets no answer: the publisher sends it again, as salon does.
	// A message sent twice is stored once (the id deduplicates it).
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			for {
				_, err := js.Publish(ctx, "chat.main", fmt.Appendf(nil, "message %d", i), jetstream.WithMsgID(fmt.Sprint(i)))
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
				t.Logf("publish %d: %v; again", i, err)
				backOff(ctx)
			}
		}
	}
	publish(0, 10)
	c.Kill(1)
	publish(10, 20) // two of three nodes: still a majority
	c.Start(1)

	// Read the stream from the node that was lost.
	nc1, err := nats.Connect(c.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc1.Close()
	js1, err := jetstream.New(nc1)
	if err != nil {
		t.Fatal(err)
	}
	// The node is healthy once it has rejoined; its stream replica may still
	// be catching up, and a read then gets no answer: read again.
	var got []string
	for ctx.Err() == nil {
		if got, err = readAll(ctx, js1, 20); err == nil {
			break
		}
		t.Logf("read from the node that came back: %v; again", err)
		backOff(ctx)
	}
	if err != nil {
		t.Fatalf("read from the node that came back: %v\nnode log:\n%s", err, c.Log(1))
	}
	for i, m := range got {
		if want := fmt.Sprintf("message %d", i); m != want {
			t.Fatalf("message %d = %q, want %q", i, m, want)
		}
	}
}

// readAll reads the first n messages of stream CHAT, in order.
func readAll(ctx context.Context, js jetstream.JetStream, n int) ([]string, error) {
	cons, err := js.OrderedConsumer(ctx, "CHAT", jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var got []string
	for len(got) < n {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", len(got), err)
		}
		got = append(got, string(msg.Data()))
	}
	return got, nil
}

// backOff waits a little before a retry while the cluster settles: there is
// no event to wait on for "a leader was elected" or "a replica caught up".
func backOff(ctx context.Context) {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
}
