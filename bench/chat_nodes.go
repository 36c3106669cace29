package bench

import (
	"context"
	"sync/atomic"
	"time"
)

// Chat over several nodes of one deployment: the viewers of each source
// address go to one node in turn (Chat.URL lists them), deliveries are
// told apart by whether the viewer is on the sender's node, and with
// Chat.Reconnect a viewer whose node is lost dials the next one.

// chatRoute says which node each message was sent on: message id was
// sent on nodes[id % len(nodes)] (the senders post in turn).
type chatRoute struct{ nodes []int }

// reconnect dials the nodes after the viewer's, in turn, until one
// welcomes it, and reads it again. Called on its own goroutine once the
// viewer's reading loop has forgotten its old connection.
func (b *Chat) reconnect(ctx context.Context, v *chatViewer, loops []*epollLoop, stamp func() int64, finishing *atomic.Bool) {
	old, left := v.conn, v.left
	_ = old.Close()
	for k := 1; !finishing.Load() && ctx.Err() == nil; k++ {
		node := (v.node + k) % len(b.wsURLs)
		conn := v.conn
		b.connect(ctx, v, node, stamp)
		if v.conn != conn {
			v.node = node
			v.back = append(v.back, time.Duration(v.joined-left))
			v.left, v.leftErr = 0, ""
			v.handle(nil, stamp(), nil, finishing)
			if err := loops[int(v.src.To4()[3])%len(loops)].add(v); err != nil {
				b.Log.Warn("reconnected viewer not read", "err", err)
			}
			return
		}
		sleepCtx(ctx, 100*time.Millisecond) // a browser's reconnect delay
	}
}
