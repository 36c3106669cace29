package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// IngestBucket is the key-value bucket of ingest leases: key = stage,
// value = the node that ingests it and its URL (Owner, lease_value.go).
const IngestBucket = "SALON_INGEST"

// DefaultLeaseTTL is how long a lease outlives its node: a stage whose
// node was lost is free for another node after at most this long.
const DefaultLeaseTTL = 10 * time.Second

// leaseTimeout bounds one claim or renewal on the network.
const leaseTimeout = 5 * time.Second

// Leases says which node ingests which stage. A node claims a stage when a
// publisher arrives and renews the lease every TTL/3 while it publishes;
// another node's claim of a leased stage is refused. When the node is lost,
// its lease expires after TTL and another node may take the stage.
//
// mu guards held and url; each held stage has a renewing goroutine. The
// watched owners of every stage have their own lock (lease_owners.go).
type Leases struct {
	// parameters
	TTL time.Duration // default DefaultLeaseTTL

	node *Node
	kv   jetstream.KeyValue
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu   sync.Mutex
	held map[string]*lease
	url  string // this node's URL in the values it writes (SetURL)

	owners owners
}

type lease struct {
	refs  int       // claims of this node not yet released
	rev   uint64    // revision of our value in the bucket
	since time.Time // when this node took the stage: in the value
	stop  chan struct{}
}

// value is what this node writes for le; l.mu is held.
func (l *Leases) value(le *lease) []byte {
	return Owner{Node: l.node.Name, URL: l.url, Since: le.since}.encode()
}

// SetURL sets this node's internal HTTP URL, written in its leases from
// their next claim or renewal (cmd knows it once the HTTP port listens).
func (l *Leases) SetURL(url string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.url = url
}

// ErrLeased wraps a claim refused because another node holds the stage.
// The registry wraps it in its own ErrStageBusy (cmd adapts).
var ErrLeased = errors.New("stage is published on another node")

// IngestLeases opens (creating) the lease bucket.
func (n *Node) IngestLeases(ctx context.Context, ttl time.Duration) (*Leases, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	replicas := 1
	if n.chat != nil {
		replicas = n.chat.CachedInfo().Config.Replicas
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:      IngestBucket,
		Description: "salon: which node ingests each stage (leases)",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, cfg)
	for noPeers(err) {
		// A cluster that just formed may not have placed every server yet
		// ("peer offline"): try again until ctx ends.
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
			kv, err = n.js.CreateOrUpdateKeyValue(ctx, cfg)
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("open the NATS ingest lease bucket %s: %w", IngestBucket, err)
	}
	l := &Leases{TTL: ttl, node: n, kv: kv, held: make(map[string]*lease)}
	l.ctx, l.stop = context.WithCancel(context.Background())
	l.owners.init()
	l.wg.Add(1)
	go l.watchOwners()
	return l, nil
}

// noPeers reports JetStream's "no suitable peers for placement" (10005).
func noPeers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10005
}

// Claim takes stage for this node (a count: each Claim needs a Release), or
// fails with ErrLeased when another node holds it.
func (l *Leases) Claim(stage string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if le := l.held[stage]; le != nil {
		le.refs++
		return nil
	}
	ctx, cancel := context.WithTimeout(l.ctx, leaseTimeout)
	defer cancel()
	le := &lease{refs: 1, since: time.Now().UTC(), stop: make(chan struct{})}
	value := l.value(le)
	rev, err := l.kv.Create(ctx, stage, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		var e jetstream.KeyValueEntry
		e, err = l.kv.Get(ctx, stage)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			// Expired or released in between: try once more.
			rev, err = l.kv.Create(ctx, stage, value)
		case err != nil:
		case ParseOwner(e.Value()).Node == l.node.Name:
			// Ours from before a restart of this node: take it back.
			rev, err = l.kv.Update(ctx, stage, value, e.Revision())
		default:
			return fmt.Errorf("%w %q (a second publisher is refused on every node)", ErrLeased, ParseOwner(e.Value()).Node)
		}
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w (claimed at the same moment)", ErrLeased)
	}
	if err != nil {
		return fmt.Errorf("claim the stage in NATS (%s): %w; check the NATS servers", IngestBucket, err)
	}
	le.rev = rev
	l.held[stage] = le
	l.wg.Add(1)
	go l.renew(stage, le)
	l.node.Log.Info("ingest lease taken", "stage", stage)
	return nil
}

// Release gives back one claim; the last one deletes the lease (in the
// background: it does not block).
func (l *Leases) Release(stage string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.held[stage]
	if le == nil {
		return
	}
	if le.refs--; le.refs > 0 {
		return
	}
	delete(l.held, stage)
	close(le.stop)
}

// Holder is the node that holds stage's lease; "" when none does.
func (l *Leases) Holder(ctx context.Context, stage string) (string, error) {
	e, err := l.kv.Get(ctx, stage)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return ParseOwner(e.Value()).Node, nil
}

// renew keeps the lease alive every TTL/3 until it is released, then
// deletes it if it is still ours.
func (l *Leases) renew(stage string, le *lease) {
	defer l.wg.Done()
	t := time.NewTicker(l.TTL / 3)
	defer t.Stop()
	rev := le.rev
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		defer cancel()
		if err := l.kv.Delete(ctx, stage, jetstream.LastRevision(rev)); err != nil {
			l.node.Log.Warn("ingest lease not deleted; it expires by itself", "stage", stage, "ttl", l.TTL, "err", err)
			return
		}
		l.node.Log.Info("ingest lease released", "stage", stage)
	}
	for {
		select {
		case <-le.stop:
			release()
			return
		case <-l.ctx.Done():
			select {
			case <-le.stop:
				release() // released before the node closed
			default:
				// Held while the node closes: it expires after TTL.
			}
			return
		case <-t.C:
		}
		l.mu.Lock()
		value := l.value(le)
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(l.ctx, leaseTimeout)
		r, err := l.kv.Update(ctx, stage, value, rev)
		cancel()
		if err == nil {
			rev = r
			continue
		}
		// Another node took the stage after our lease expired (this node
		// was cut off longer than TTL), or NATS is unreachable now.
		l.node.Log.Error("ingest lease not renewed: another node may take the stage", "stage", stage, "err", err)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			if e, gerr := l.kv.Get(l.ctx, stage); gerr == nil && ParseOwner(e.Value()).Node == l.node.Name {
				rev = e.Revision()
			}
		}
	}
}

// Close stops renewing: leases still held expire after TTL (a node that
// shuts down has released them when its publishes ended).
func (l *Leases) Close() {
	l.stop()
	l.wg.Wait()
}
