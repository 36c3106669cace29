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

// streamLog is an ordered log on a JetStream stream: the records of the
// subjects its filter matches (one stage's chat, or every stage's live
// captions). Appends are published and count once JetStream acknowledged
// them (stored on a majority of the stream's replicas); a consumer of the
// filter delivers the records, in stream order, to this node. Every node
// of the deployment runs one per log it follows, so every node applies the
// same records in the same order.
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
type streamLog struct {
	node    *Node
	stream  string // the stream's name
	str     jetstream.Stream
	subject string // the consumer's filter
	kind    string // "chat", "captions": in logs and errors
	stage   string // in logs; "" for a log of every stage
	deliver func(subject string, data []byte)
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

// Timing of a stream log.
const (
	// openTimeout bounds the replay of a log when it opens (chat.Rooms
	// holds its table's lock meanwhile, so it is short; a day's chat
	// replays in a second or two).
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

// openLog opens the log of the records of stream s whose subjects match
// subject: it delivers every record the stream holds for them, oldest
// first, before it returns, then each new one until Close. deliver is
// called from one goroutine at a time.
func (n *Node) openLog(s jetstream.Stream, subject, kind, stage string, deliver func(string, []byte)) (*streamLog, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	l := &streamLog{node: n, stream: s.CachedInfo().Config.Name, str: s, subject: subject, kind: kind, stage: stage, deliver: deliver, changed: make(chan struct{})}
	what := l.what()
	// The replay is done once the record that is last now was delivered.
	last, err := l.lastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("open the %s: %w (check the NATS servers)", what, err)
	}
	l.resetC = make(chan struct{}, 1)
	l.done = make(chan struct{})
	l.stopC = make(chan struct{})
	if err := l.startConsumer(ctx); err != nil {
		return nil, fmt.Errorf("read the %s: %w (check the NATS servers)", what, err)
	}
	go l.run()
	if err := l.waitDelivered(ctx, last); err != nil {
		l.Close()
		return nil, fmt.Errorf("replay the %s (%d records): %w", what, last, err)
	}
	return l, nil
}

// lastSeq is the stream sequence of the log's last record now, 0 when it
// has none; it asks again while the stream has no leader, until ctx ends.
func (l *streamLog) lastSeq(ctx context.Context) (uint64, error) {
	for {
		msg, err := l.str.GetLastMsgForSubject(ctx, l.subject)
		if err == nil {
			return msg.Sequence, nil
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, nil
		}
		if err := again(ctx, err); err != nil {
			return 0, err
		}
	}
}

// catchUp waits until this node has delivered every record the log held
// when it was called (those other nodes appended included).
func (l *streamLog) catchUp(ctx context.Context) error {
	last, err := l.lastSeq(ctx)
	if err != nil {
		return fmt.Errorf("read the end of the %s: %w (check the NATS servers)", l.what(), err)
	}
	return l.waitDelivered(ctx, last)
}

// what names the log for errors: "chat log of stage main".
func (l *streamLog) what() string {
	if l.stage == "" {
		return l.kind + " log"
	}
	return l.kind + " log of stage " + l.stage
}

// startConsumer creates a consumer from the record after the last one
// delivered, retrying until ctx ends, and starts consuming.
func (l *streamLog) startConsumer(ctx context.Context) error {
	for {
		l.mu.Lock()
		from, closed := l.delivered+1, l.closed
		l.mu.Unlock()
		if closed {
			return errors.New("the " + l.kind + " log is closed")
		}
		actx, cancel := context.WithTimeout(ctx, createAttempt)
		cons, err := l.node.js.CreateConsumer(actx, l.stream, jetstream.ConsumerConfig{
			Description:       "salon node " + l.node.Name + ": " + l.what(),
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
func (l *streamLog) consumeError(serial int, err error) {
	l.node.Log.Debug(l.kind+" log consumer", "stage", l.stage, "err", err)
	if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, nats.ErrNoResponders) {
		l.reset(serial)
	}
}

// reset asks run to replace consumer serial (not a newer one).
func (l *streamLog) reset(serial int) {
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
func (l *streamLog) run() {
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
		l.node.Log.Info(l.kind+" log consumer recreated", "stage", l.stage, "took", time.Since(start).Round(time.Millisecond))
	}
}

// stopConsumer stops the current consumer and deletes it in the background.
func (l *streamLog) stopConsumer() {
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
			_ = l.node.js.DeleteConsumer(ctx, l.stream, name) // else it expires when idle
		}()
	}
}

// handle delivers one record of consumer serial, in order: a record the
// node has delivered already is skipped, and a gap in the consumer's
// delivery sequence recreates it.
func (l *streamLog) handle(serial int, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		l.node.Log.Error(l.kind+" log: a record without metadata; skipped", "stage", l.stage, "err", err)
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
	l.deliver(msg.Subject(), msg.Data())
	l.mu.Lock()
	l.delivered = md.Sequence.Stream
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// publish publishes rec on subject with id as its Nats-Msg-Id, again
// until the stream acknowledges it or ctx ends (a retry of a record that
// was stored is not stored twice), then waits until this node has
// delivered it.
//
// The acknowledgement is the commit: once the stream has the record, every
// node applies it. If this node's consumer is being recreated (the server
// it read from was lost: ~10 s while the cluster elects new leaders) and
// does not deliver the record before ctx ends, publish still succeeds: the
// record is applied here when the consumer is back.
func (l *streamLog) publish(ctx context.Context, subject, id string, rec []byte) error {
	var ack *jetstream.PubAck
	for {
		actx, cancel := context.WithTimeout(ctx, publishAttempt)
		a, err := l.node.js.Publish(actx, subject, rec, jetstream.WithMsgID(id), jetstream.WithExpectStream(l.stream))
		cancel()
		if err == nil {
			ack = a
			break
		}
		if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) || errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("publish to %s: %w", subject, err)
		}
		if err := again(ctx, err); err != nil {
			return fmt.Errorf("publish to %s: %w", subject, err)
		}
	}
	if err := l.waitDelivered(ctx, ack.Sequence); err != nil {
		l.node.Log.Warn(l.kind+" record stored but not yet applied on this node; it will be when its consumer is back", "stage", l.stage, "seq", ack.Sequence, "err", err)
	}
	return nil
}

// waitDelivered waits until the record at stream sequence seq (or a later
// one) has been delivered.
func (l *streamLog) waitDelivered(ctx context.Context, seq uint64) error {
	for {
		l.mu.Lock()
		done, closed, ch := l.delivered >= seq, l.closed, l.changed
		l.mu.Unlock()
		switch {
		case done:
			return nil
		case closed:
			return errors.New("the " + l.kind + " log is closed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("record %d stored but not yet delivered here: %w", seq, ctx.Err())
		}
	}
}

// Close stops the consumer; Appends waiting for a delivery return.
func (l *streamLog) Close() error {
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
		return fmt.Errorf("%s: the consumer did not stop within 5 s", l.what())
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
