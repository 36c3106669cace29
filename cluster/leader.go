package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaderBucket is the key-value bucket of the programme's leader lease:
// key leaderKey, value = the name of the node that runs the schedule (auto
// mode) and its end-of-talk work. It has the ingest leases' mechanics
// (lease.go): a node takes the key with Create, renews it every TTL/3 with
// Update on its revision, and a lost node's lease expires after TTL.
const LeaderBucket = "SALON_LEADER"

const leaderKey = "programme"

// Leader campaigns for the programme's leadership: at most one node of
// the deployment leads at a time (up to the lease's TTL after a node is
// cut off: the old leader stops acting when a renewal fails, before its
// lease expires). A node that does not lead tries again every TTL/3.
//
// mu guards leading; one goroutine campaigns and renews.
type Leader struct {
	// parameters
	TTL time.Duration // default DefaultLeaseTTL
	// OnChange is called (on the campaign goroutine) when this node starts
	// or stops leading.
	OnChange func(leading bool)

	node   *Node
	kv     jetstream.KeyValue
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	leading bool
	rev     uint64
}

// LeaderElection opens (creating) the leader bucket and starts
// campaigning; onChange is the Leader's OnChange. Close it before the Node.
func (n *Node) LeaderElection(ctx context.Context, ttl time.Duration, onChange func(bool)) (*Leader, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	kv, err := n.createOrUpdateKV(ctx, jetstream.KeyValueConfig{
		Bucket:      LeaderBucket,
		Description: "salon: the node that runs the programme's schedule (a lease)",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    n.replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("open the NATS leader bucket %s: %w", LeaderBucket, err)
	}
	l := &Leader{TTL: ttl, OnChange: onChange, node: n, kv: kv}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.run()
	return l, nil
}

// Leading reports whether this node leads now.
func (l *Leader) Leading() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading
}

// Holder is the node that leads; "" when none does.
func (l *Leader) Holder(ctx context.Context) (string, error) {
	e, err := l.kv.Get(ctx, leaderKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

func (l *Leader) run() {
	defer l.wg.Done()
	t := time.NewTicker(l.TTL / 3)
	defer t.Stop()
	for {
		l.step()
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// step takes the lease when it is free (or ours from before a restart),
// or renews it when this node leads.
func (l *Leader) step() {
	ctx, cancel := context.WithTimeout(l.ctx, leaseTimeout)
	defer cancel()
	l.mu.Lock()
	leading, rev := l.leading, l.rev
	l.mu.Unlock()
	name := []byte(l.node.Name)
	var err error
	if leading {
		rev, err = l.kv.Update(ctx, leaderKey, name, rev)
		if err != nil {
			l.node.Log.Error("programme leadership not renewed: another node may take it; this node stops running the schedule", "err", err)
		}
	} else {
		rev, err = l.kv.Create(ctx, leaderKey, name)
		if errors.Is(err, jetstream.ErrKeyExists) {
			if e, gerr := l.kv.Get(ctx, leaderKey); gerr == nil && string(e.Value()) == l.node.Name {
				rev, err = l.kv.Update(ctx, leaderKey, name, e.Revision()) // ours from before a restart
			}
		}
	}
	now := err == nil
	l.mu.Lock()
	changed := now != l.leading
	l.leading, l.rev = now, rev
	l.mu.Unlock()
	if changed {
		if now {
			l.node.Log.Info("this node leads the programme: it runs the schedule")
		}
		if l.OnChange != nil {
			l.OnChange(now)
		}
	}
}

// Close stops campaigning and gives the lease up if this node holds it,
// so another node takes over at its next try rather than after the TTL.
func (l *Leader) Close() {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	leading, rev := l.leading, l.rev
	l.leading = false
	l.mu.Unlock()
	if !leading {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	if err := l.kv.Delete(ctx, leaderKey, jetstream.LastRevision(rev)); err != nil {
		l.node.Log.Warn("programme leadership not given up; it expires by itself", "ttl", l.TTL, "err", err)
	}
}
