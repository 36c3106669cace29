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
// stream's replicas); a consumer of the stage's subject delivers its
// records, in stream order, to this node's hub. Every node of the
// deployment runs one per open room, so every hub applies the same records
// in the same order.
//
// The consumer is an ephemeral, unacknowledged pull consumer in memory,
// which the log recreates from the record after the last one delivered
// whenever it fails: missed heartbeats (its server was lost), a gap in its
// delivery sequence (a batch lost in a reconnection), or deletion. This is
// what nats.go's ordered consumer does, but with short timeouts: its
// recreation waits up to 10 s per attempt, and while a cluster re-elects
// its leaders the first attempt often gets no answer.
//
// mu guards everything below it; deliveries run on the consumer's
// goroutine, one at a time (deliverMu), and never under mu.
type ChatLog struct {
	node    *Node
	stage   string
	subject string
	deliver func([]byte)
	resetC  chan struct{} // capacity 1: the consumer must be recreated
	done    chan struct{} // closed when run returns
	// deliverMu is held across each delivery: a delivery of a consumer
	// being replaced ends before its successor's first one.
	deliverMu sync.Mutex

	mu        sync.Mutex
	delivered uint64        // stream sequence of the last record delivered
	changed   chan struct{} // closed and replaced when delivered grows
	closed    bool
	stopC     chan struct{} // closed by Close
	cc        jetstream.ConsumeContext
	consumer  string // the current consumer's name, deleted when replaced
	serial    int    // consumers created so far; a delivery from an older one is dropped
	nextCSeq  uint64 // the delivery sequence the current consumer sends next
}

// Timing of a chat log.
const (
	// openTimeout bounds the replay of a stage's log when its room opens
	// (chat.Rooms holds its table's lock meanwhile, so it is short; a
	// day's chat replays in a second or two).
	openTimeout = 20 * time.Second
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
	// createAttempt bounds one attempt to create a consumer.
	createAttempt = 2 * time.Second
	// consumerIdle is how long the servers keep a consumer nobody pulls
	// from (a node lost without deleting its consumers).
	consumerIdle = time.Minute
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
	l.resetC = make(chan struct{}, 1)
	l.done = make(chan struct{})
	l.stopC = make(chan struct{})
	if err := l.startConsumer(ctx); err != nil {
		return nil, fmt.Errorf("read the chat log of stage %s: %w (check the NATS servers)", stage, err)
	}
	go l.run()
	if err := l.waitDelivered(ctx, last); err != nil {
		l.Close()
		return nil, fmt.Errorf("replay the chat log of stage %s (%d records): %w", stage, last, err)
	}
	return l, nil
}

// startConsumer creates a consumer from the record after the last one
// delivered, retrying until ctx ends, and starts consuming.
func (l *ChatLog) startConsumer(ctx context.Context) error {
	for {
		l.mu.Lock()
		from, closed := l.delivered+1, l.closed
		l.mu.Unlock()
		if closed {
			return errors.New("the chat log is closed")
		}
		actx, cancel := context.WithTimeout(ctx, createAttempt)
		cons, err := l.node.js.CreateConsumer(actx, ChatStream, jetstream.ConsumerConfig{
			Description:       "salon node " + l.node.Name + ": chat of stage " + l.stage,
			FilterSubject:     l.subject,
			DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:       from,
			AckPolicy:         jetstream.AckNonePolicy,
			MemoryStorage:     true,
			Replicas:          1,
			InactiveThreshold: consumerIdle,
		})
		cancel()
		if err == nil {
			l.mu.Lock()
			l.serial++
			serial := l.serial
			l.nextCSeq = 1
			l.consumer = cons.CachedInfo().Name
			l.mu.Unlock()
			cc, err := cons.Consume(func(msg jetstream.Msg) { l.handle(serial, msg) },
				jetstream.PullHeartbeat(consumerHeartbeat),
				jetstream.PullExpiry(consumerExpiry),
				jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) { l.consumeError(serial, err) }))
			if err == nil {
				l.mu.Lock()
				l.cc = cc
				l.mu.Unlock()
				return nil
			}
		}
		if err := again(ctx, err); err != nil {
			return err
		}
	}
}

// consumeError asks for a new consumer when the current one cannot go on.
func (l *ChatLog) consumeError(serial int, err error) {
	l.node.Log.Debug("chat log consumer", "stage", l.stage, "err", err)
	if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, nats.ErrNoResponders) {
		l.reset(serial)
	}
}

// reset asks run to replace consumer serial (not a newer one).
func (l *ChatLog) reset(serial int) {
	l.mu.Lock()
	current := serial == l.serial
	l.mu.Unlock()
	if !current {
		return
	}
	select {
	case l.resetC <- struct{}{}:
	default:
	}
}

// run replaces the consumer when asked, until Close.
func (l *ChatLog) run() {
	defer close(l.done)
	for {
		select {
		case <-l.stopC:
			l.stopConsumer()
			return
		case <-l.resetC:
		}
		l.stopConsumer()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-l.stopC:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := l.startConsumer(ctx)
		cancel()
		if err != nil {
			return // closed
		}
		l.node.Log.Info("chat log consumer recreated", "stage", l.stage, "took", time.Since(start).Round(time.Millisecond))
	}
}

// stopConsumer stops the current consumer and deletes it in the background.
func (l *ChatLog) stopConsumer() {
	l.mu.Lock()
	cc, name := l.cc, l.consumer
	l.cc, l.consumer = nil, ""
	l.serial++ // deliveries of the old one are dropped from now on
	l.mu.Unlock()
	if cc != nil {
		cc.Stop()
	}
	if name != "" {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), createAttempt)
			defer cancel()
			_ = l.node.js.DeleteConsumer(ctx, ChatStream, name) // else it expires when idle
		}()
	}
}

// handle delivers one record of consumer serial, in order: a record the
// node has delivered already is skipped, and a gap in the consumer's
// delivery sequence recreates it.
func (l *ChatLog) handle(serial int, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		l.node.Log.Error("chat log: a record without metadata; skipped", "stage", l.stage, "err", err)
		return
	}
	l.deliverMu.Lock()
	defer l.deliverMu.Unlock()
	l.mu.Lock()
	switch {
	case serial != l.serial:
		l.mu.Unlock()
		return
	case md.Sequence.Consumer != l.nextCSeq:
		l.mu.Unlock()
		l.reset(serial)
		return
	}
	l.nextCSeq++
	dup := md.Sequence.Stream <= l.delivered
	l.mu.Unlock()
	if dup {
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

// Sync waits until this node has delivered every record the stage's log
// holds now: a record another node's Append got acknowledged is then
// applied here (this node's consumer may lag, or be recreated after a
// server was lost).
func (l *ChatLog) Sync(ctx context.Context) error {
	for {
		msg, err := l.node.chat.GetLastMsgForSubject(ctx, l.subject)
		switch {
		case err == nil:
			return l.waitDelivered(ctx, msg.Sequence)
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return nil
		}
		if err := again(ctx, err); err != nil {
			return fmt.Errorf("read the end of the chat log of stage %s: %w (check the NATS servers)", l.stage, err)
		}
	}
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
	close(l.stopC)
	l.mu.Unlock()
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		return fmt.Errorf("chat log of stage %s: the consumer did not stop within 5 s", l.stage)
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
