package cluster

import (
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// owners is every stage's lease as this node last saw it, kept by watching
// the bucket, so that a request asking "who ingests this stage?" costs no
// round trip to NATS.
//
// A lease whose node died is not deleted: the bucket's TTL drops it
// silently, and a watch sees nothing. So an entry counts only while it was
// written (claimed or renewed, every TTL/3) less than TTL ago by this node's
// clock; that also hides every stage while this node is cut off from NATS.
//
// mu guards m and changed.
type owners struct {
	mu      sync.Mutex
	m       map[string]ownerEntry
	changed chan struct{} // closed and replaced at each change
}

type ownerEntry struct {
	Owner
	seen time.Time // when this node received the value
}

func (o *owners) init() {
	o.m = make(map[string]ownerEntry)
	o.changed = make(chan struct{})
}

// OwnersChanged is closed at the next lease written or deleted.
func (l *Leases) OwnersChanged() <-chan struct{} {
	l.owners.mu.Lock()
	defer l.owners.mu.Unlock()
	return l.owners.changed
}

// StageOwner is a stage and its lease.
type StageOwner struct {
	Stage string
	Owner
}

// Owner is the node that ingests stage now, as far as this node knows;
// ok false when no lease is current.
func (l *Leases) Owner(stage string) (Owner, bool) {
	l.owners.mu.Lock()
	defer l.owners.mu.Unlock()
	e, ok := l.owners.m[stage]
	if !ok || time.Since(e.seen) > l.TTL {
		return Owner{}, false
	}
	return e.Owner, true
}

// Owners lists the current leases, by stage.
func (l *Leases) Owners() []StageOwner {
	l.owners.mu.Lock()
	defer l.owners.mu.Unlock()
	out := make([]StageOwner, 0, len(l.owners.m))
	for stage, e := range l.owners.m {
		if time.Since(e.seen) <= l.TTL {
			out = append(out, StageOwner{Stage: stage, Owner: e.Owner})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}

// watchOwners follows the bucket until the leases close. The watch is an
// ordered consumer that the client library recreates after a NATS
// reconnect; should it end anyway, it is opened again.
func (l *Leases) watchOwners() {
	defer l.wg.Done()
	for {
		w, err := l.kv.WatchAll(l.ctx)
		if err == nil {
			l.followOwners(w)
			_ = w.Stop()
		} else if l.ctx.Err() == nil {
			l.node.Log.Warn("cannot watch the ingest leases; other nodes' stages are not served here until it works", "err", err)
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (l *Leases) followOwners(w jetstream.KeyWatcher) {
	for {
		select {
		case <-l.ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue // the initial values are all in
			}
			l.owners.mu.Lock()
			if e.Operation() == jetstream.KeyValuePut {
				l.owners.m[e.Key()] = ownerEntry{Owner: ParseOwner(e.Value()), seen: time.Now()}
			} else {
				delete(l.owners.m, e.Key())
			}
			close(l.owners.changed)
			l.owners.changed = make(chan struct{})
			l.owners.mu.Unlock()
		}
	}
}
