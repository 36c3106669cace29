package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ChatLog is one stage's chat log on the chat stream: appends are published
// and count once JetStream acknowledged them (stored on a majority of the
// stream's replicas); an ordered consumer delivers the stage's records, in
// stream order, to this node's hub. Every node of the deployment runs one
// per open room, so every hub applies the same records in the same order.
//
// mu guards delivered, changed and closed; deliveries run on the
// consumer's goroutine, one at a time.
type ChatLog struct {
	node    *Node
	stage   string
	subject string
	deliver func([]byte)
	cc      jetstream.ConsumeContext

	mu        sync.Mutex
	delivered uint64        // stream sequence of the last record delivered
	changed   chan struct{} // closed and replaced when delivered grows
	closed    bool
}

// Timing of a chat log.
const (
	// openTimeout bounds the replay of a stage's log when its room opens.
	openTimeout = time.Minute
	// publishAttempt bounds one publish: a publish sent to a server that
	// just died gets no answer, and is sent again with the same id.
	publishAttempt = 2 * time.Second
	// retryWait is the pause between attempts while the cluster elects a
	// stream leader (there is no event to wait on for that).
	retryWait = 100 * time.Millisecond
	// consumerHeartbeat: the consumer is recreated, from the record after
	// the last one delivered, after two missed heartbeats (a server lost).
	consumerHeartbeat = time.Second
	consumerExpiry    = 5 * time.Second
)

// OpenChat opens stage's log: it delivers every record the stream holds
// for the stage, oldest first, before it returns, then each new one until
// Close. deliver is called from one goroutine at a time.
func (n *Node) OpenChat(stage string, deliver func([]byte)) (*ChatLog, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	l := &ChatLog{node: n, stage: stage, subject: ChatSubject(stage), deliver: deliver, changed: make(chan struct{})}
	// The replay is done once the record that is last now was delivered.
	var last uint64
	for {
		msg, err := n.chat.GetLastMsgForSubject(ctx, l.subject)
		if err == nil {
			last = msg.Sequence
			break
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err := again(ctx, err); err != nil {
			return nil, fmt.Errorf("open the chat log of stage %s: %w (check the NATS servers)", stage, err)
		}
	}
	cons, err := n.js.OrderedConsumer(ctx, ChatStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("open the chat log of stage %s: %w (check the NATS servers)", stage, err)
	}
	l.cc, err = cons.Consume(l.handle,
		jetstream.PullHeartbeat(consumerHeartbeat),
		jetstream.PullExpiry(consumerExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			n.Log.Debug("chat log consumer", "stage", stage, "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("read the chat log of stage %s: %w", stage, err)
	}
	if err := l.waitDelivered(ctx, last); err != nil {
		l.Close()
		return nil, fmt.Errorf("replay the chat log of stage %s (%d records): %w", stage, last, err)
	}
	return l, nil
}

// handle delivers one record.
func (l *ChatLog) handle(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		l.node.Log.Error("chat log: a record without metadata; skipped", "stage", l.stage, "err", err)
		return
	}
	l.deliver(msg.Data())
	l.mu.Lock()
	l.delivered = md.Sequence.Stream
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// Append publishes rec with id as its Nats-Msg-Id, again until the stream
// acknowledges it or ctx ends (a retry of a record that was stored is not
// stored twice), then waits until this node has delivered it.
//
// The acknowledgement is the commit: once the stream has the record, every
// node applies it. If this node's consumer is being recreated (the server
// it read from was lost: ~10 s while the cluster elects new leaders) and
// does not deliver the record before ctx ends, Append still succeeds: the
// record is applied here when the consumer is back.
func (l *ChatLog) Append(ctx context.Context, id string, rec []byte) error {
	var ack *jetstream.PubAck
	for {
		actx, cancel := context.WithTimeout(ctx, publishAttempt)
		a, err := l.node.js.Publish(actx, l.subject, rec, jetstream.WithMsgID(id), jetstream.WithExpectStream(ChatStream))
		cancel()
		if err == nil {
			ack = a
			break
		}
		if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) || errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("publish to %s: %w", l.subject, err)
		}
		if err := again(ctx, err); err != nil {
			return fmt.Errorf("publish to %s: %w", l.subject, err)
		}
	}
	if err := l.waitDelivered(ctx, ack.Sequence); err != nil {
		l.node.Log.Warn("chat record stored but not yet applied on this node; it will be when its consumer is back", "stage", l.stage, "seq", ack.Sequence, "err", err)
	}
	return nil
}

// waitDelivered waits until the record at stream sequence seq (or a later
// one) has been delivered.
func (l *ChatLog) waitDelivered(ctx context.Context, seq uint64) error {
	for {
		l.mu.Lock()
		done, closed, ch := l.delivered >= seq, l.closed, l.changed
		l.mu.Unlock()
		switch {
		case done:
			return nil
		case closed:
			return errors.New("the chat log is closed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("record %d stored but not yet delivered here: %w", seq, ctx.Err())
		}
	}
}

// Close stops the consumer; Appends waiting for a delivery return.
func (l *ChatLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	if l.cc != nil {
		l.cc.Stop()
		select {
		case <-l.cc.Closed():
		case <-time.After(5 * time.Second):
			// A delivery stuck on a connection that is going away: it is
			// dropped (the hub is closed), nothing waits on it.
			return fmt.Errorf("chat log of stage %s: the consumer did not stop within 5 s", l.stage)
		}
	}
	return nil
}

// again waits before another attempt after err, or returns why not.
func again(ctx context.Context, err error) error {
	select {
	case <-time.After(retryWait):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
	}
}
