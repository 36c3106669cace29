package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CountsBucket holds what each node counts now (its live viewers per stage,
// its day's statistics), one key per node, rewritten every few seconds: a
// node adds the other nodes' values to its own. A node that stops writing
// (dead, or cut off) is left out once its value is older than the TTL, and
// the bucket forgets it too.
const CountsBucket = "SALON_NODE_COUNTS"

// DefaultCountsTTL is how long a node's counts stand without being written
// again.
const DefaultCountsTTL = 30 * time.Second

// maxCounts bounds one node's value: a day's statistics with a few hundred
// talks and their per-minute series.
const maxCounts = 1 << 20

// NodeCounts is this node's view of the counts bucket: Put writes this
// node's value; Others are the other nodes' values written within the TTL.
// One watcher goroutine keeps them; mu guards others.
type NodeCounts struct {
	node    *Node
	ttl     time.Duration
	kv      jetstream.KeyValue
	watcher jetstream.KeyWatcher
	wg      sync.WaitGroup
	now     func() time.Time

	mu     sync.Mutex
	others map[string]nodeValue // by key
}

// NodeValue is one node's counts as it wrote them.
type NodeValue struct {
	Node string
	// Rev changes whenever the node writes again: a reader may keep what it
	// made of Data until Rev changes.
	Rev  uint64
	Data []byte
}

type nodeValue struct {
	NodeValue
	seen time.Time // when this node received it
}

// NodeCounts opens (creating) the counts bucket, values kept for ttl
// (default DefaultCountsTTL), and watches it. Close it before the Node.
func (n *Node) NodeCounts(ctx context.Context, ttl time.Duration) (*NodeCounts, error) {
	if ttl <= 0 {
		ttl = DefaultCountsTTL
	}
	kv, err := n.createOrUpdateKV(ctx, jetstream.KeyValueConfig{
		Bucket:       CountsBucket,
		Description:  "salon: what each node counts now (live viewers, the day's statistics); each node writes its key every few seconds",
		History:      1,
		TTL:          ttl,
		MaxValueSize: maxCounts,
		Storage:      jetstream.MemoryStorage, // counts now: nothing to keep across a restart of the servers
		Replicas:     n.replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("open the NATS counts bucket %s: %w", CountsBucket, err)
	}
	// The watcher outlives ctx (a start-up deadline): it runs until Close.
	w, err := kv.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("watch the NATS counts bucket %s: %w", CountsBucket, err)
	}
	c := &NodeCounts{node: n, ttl: ttl, kv: kv, watcher: w, now: time.Now, others: map[string]nodeValue{}}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// countsKey is a node's key: its name in base64url, as a name may hold
// characters a key may not.
func countsKey(node string) string {
	return "node." + base64.RawURLEncoding.EncodeToString([]byte(node))
}

func (c *NodeCounts) run() {
	defer c.wg.Done()
	self := countsKey(c.node.Name)
	for e := range c.watcher.Updates() {
		if e == nil || e.Key() == self {
			continue
		}
		c.mu.Lock()
		if e.Operation() != jetstream.KeyValuePut {
			delete(c.others, e.Key())
		} else {
			name, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(e.Key(), "node."))
			c.others[e.Key()] = nodeValue{NodeValue: NodeValue{Node: string(name), Rev: e.Revision(), Data: e.Value()}, seen: c.now()}
		}
		c.mu.Unlock()
	}
}

// Put writes this node's counts.
func (c *NodeCounts) Put(ctx context.Context, data []byte) error {
	if len(data) > maxCounts {
		return fmt.Errorf("this node's counts are %d bytes, more than %d", len(data), maxCounts)
	}
	if _, err := c.kv.Put(ctx, countsKey(c.node.Name), data); err != nil {
		return fmt.Errorf("write this node's counts to the NATS bucket %s: %w; check the NATS servers", CountsBucket, err)
	}
	return nil
}

// Others are the values of the other nodes received within the TTL.
func (c *NodeCounts) Others() []NodeValue {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]NodeValue, 0, len(c.others))
	for k, v := range c.others {
		if now.Sub(v.seen) > c.ttl {
			delete(c.others, k) // not written again: the node is gone
			continue
		}
		out = append(out, v.NodeValue)
	}
	return out
}

// Close stops watching and removes this node's value (its counts go with
// it at once, not after the TTL).
func (c *NodeCounts) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.kv.Delete(ctx, countsKey(c.node.Name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		c.node.Log.Debug("this node's counts not removed; they expire", "err", err)
	}
	_ = c.watcher.Stop()
	c.wg.Wait()
}
