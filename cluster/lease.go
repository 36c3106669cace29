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
// A node that cannot renew its lease for TTL (cut off from NATS), or finds
// that another node holds it, has lost the stage: Lost is called, and the
// node ends its publish there so that the publisher reconnects to the node
// that holds the stage. Until this node's claims of the lost lease are all
// released, the stage is refused here.
//
// mu guards held and url; each held stage has a renewing goroutine. The
// watched owners of every stage have their own lock (lease_owners.go).
type Leases struct {
	// parameters
	TTL time.Duration // default DefaultLeaseTTL
	// Lost is called, on the lease's goroutine, when this node lost a
	// stage it holds; err says why. Set before the first Claim.
	Lost func(stage string, err error)

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
	lost  bool      // no longer ours: the claims end, none is added
	since time.Time // when this node took the stage: in the value
	stop  chan struct{}
}

// value is what this node writes for le; l.mu is held.
func (l *Leases) value(le *lease) []byte {
	return Owner{Node: l.node.Name, URL: l.url, Since: le.since}.encode()
}

// currentValue is value, taking l.mu.
func (l *Leases) currentValue(le *lease) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.value(le)
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
	cfg := jetstream.KeyValueConfig{
		Bucket:      IngestBucket,
		Description: "salon: which node ingests each stage (leases)",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    n.replicas(),
	}
	kv, err := n.createOrUpdateKV(ctx, cfg)
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

// Claim takes stage for this node (a count: each Claim needs a Release), or
// fails with ErrLeased when another node holds it.
func (l *Leases) Claim(stage string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if le := l.held[stage]; le != nil {
		if le.lost {
			return fmt.Errorf("%w: this node lost its lease of the stage a moment ago and is ending its publish; publish again in a few seconds", ErrLeased)
		}
		le.refs++
		return nil
	}
	if st := l.node.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("cannot take the stage: this node is not connected to NATS (%s), so it cannot know whether another node ingests it; publish to another node, or check the NATS servers", st)
	}
	ctx, cancel := context.WithTimeout(l.ctx, leaseTimeout)
	defer cancel()
	le := &lease{refs: 1, since: time.Now().UTC(), stop: make(chan struct{})}
	value := l.value(le)
	rev, err := l.kv.Create(ctx, stage, value)
	// A bucket's stream that is still electing its leader (a NATS server
	// just started or lost) answers nothing for a moment: ask again.
	for errors.Is(err, jetstream.ErrNoStreamResponse) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		rev, err = l.kv.Create(ctx, stage, value)
	}
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
	if !le.lost {
		close(le.stop)
	}
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
// deletes it if it is still ours. A lease not renewed for TTL, or taken by
// another node, is lost.
func (l *Leases) renew(stage string, le *lease) {
	defer l.wg.Done()
	t := time.NewTicker(l.TTL / 3)
	defer t.Stop()
	rev := le.rev
	// The server's TTL started a little after renewed: a lease this node
	// counts as expired has not expired there yet.
	renewed := time.Now()
	expiry := time.NewTimer(l.TTL)
	defer expiry.Stop()
	var lastErr error
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		defer cancel()
		if err := l.kv.Delete(ctx, stage, jetstream.LastRevision(rev)); err != nil {
			l.node.Log.Warn("ingest lease not deleted; it expires by itself", "stage", stage, "ttl", l.TTL, "err", err)
			return
		}
		l.node.Log.Info("ingest lease released", "stage", stage)
	}
	took := func(r uint64) {
		rev, renewed, lastErr = r, time.Now(), nil
		expiry.Reset(l.TTL)
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
		case <-expiry.C:
			l.lose(stage, le, fmt.Errorf("its lease could not be renewed for %s, so another node may take the stage (last error: %v)", l.TTL, lastErr))
			return
		case <-t.C:
		}
		// An attempt ends by the time the lease would expire.
		expires := renewed.Add(l.TTL)
		deadline := time.Now().Add(leaseTimeout)
		if expires.Before(deadline) {
			deadline = expires
		}
		ctx, cancel := context.WithDeadline(l.ctx, deadline)
		r, err := l.kv.Update(ctx, stage, l.currentValue(le), rev)
		cancel()
		if err == nil {
			took(r)
			continue
		}
		lastErr = err
		if l.ctx.Err() != nil || !time.Now().Before(expires) {
			continue // closing, or lost (the expiry timer fires)
		}
		holder, r, herr := l.holder(stage, expires)
		switch {
		case herr == nil && holder == l.node.Name:
			rev = r // ours: written by an attempt whose answer was lost
			continue
		case herr == nil && holder != "":
			l.lose(stage, le, fmt.Errorf("node %q holds it now (this node could not renew its lease in time: %w)", holder, err))
			return
		}
		// NATS unreachable for now, or expired with nobody else holding it.
		l.node.Log.Warn("ingest lease not renewed; trying again", "stage", stage, "expires_in", time.Until(expires).Round(time.Millisecond), "err", err)
		if herr == nil && holder == "" {
			ctx, cancel := context.WithDeadline(l.ctx, expires)
			if r, err := l.kv.Create(ctx, stage, l.currentValue(le)); err == nil {
				took(r)
			}
			cancel()
		}
	}
}

// holder reads who holds stage ("" when nobody) and its revision, giving
// up at before.
func (l *Leases) holder(stage string, before time.Time) (string, uint64, error) {
	ctx, cancel := context.WithDeadline(l.ctx, before)
	defer cancel()
	e, err := l.kv.Get(ctx, stage)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	return ParseOwner(e.Value()).Node, e.Revision(), nil
}

// lose marks the lease lost and tells Lost, unless it was released
// meanwhile (a new claim's publish is not this lease's).
func (l *Leases) lose(stage string, le *lease, why error) {
	l.mu.Lock()
	le.lost = true
	current := l.held[stage] == le
	l.mu.Unlock()
	if !current {
		return
	}
	l.node.Log.Error("ingest lease lost: this node ends its publish of the stage so that the publisher reconnects to the node that holds it",
		"stage", stage, "reason", why.Error())
	if l.Lost != nil {
		l.Lost(stage, fmt.Errorf("this node lost the stage: %w", why))
	}
}

// Close stops renewing: leases still held expire after TTL (a node that
// shuts down has released them when its publishes ended).
func (l *Leases) Close() {
	l.stop()
	l.wg.Wait()
}
