package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jsAttempt bounds one JetStream API request made by askJS.
const jsAttempt = 5 * time.Second

// askJS makes a JetStream API request (f) with jsAttempt for an answer, and
// makes it again until ctx ends while none comes or the cluster cannot
// place the replicas yet. JetStream answers nothing while a replicated
// stream or bucket is still electing its leader, and "no suitable peers"
// while a cluster that just formed has not placed every server: a node
// starting then waits instead of failing. f must be idempotent (a look-up,
// a create-or-update).
func askJS[T any](ctx context.Context, log *slog.Logger, what string, f func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, jsAttempt)
		v, err := f(actx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return v, err
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			log.Warn("NATS JetStream did not answer in time; asking again", "for", what, "after", jsAttempt)
		case noPeers(err):
			select {
			case <-ctx.Done():
				return v, err
			case <-time.After(250 * time.Millisecond):
			}
		default:
			return v, err
		}
	}
}

// noPeers reports JetStream's "no suitable peers for placement" (10005).
func noPeers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10005
}

// createOrUpdateKV creates a key-value bucket or updates its configuration
// (askJS).
func (n *Node) createOrUpdateKV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return askJS(ctx, n.Log, "bucket "+cfg.Bucket, func(ctx context.Context) (jetstream.KeyValue, error) {
		return n.js.CreateOrUpdateKeyValue(ctx, cfg)
	})
}

// createOrUpdateStream creates a stream or updates its configuration
// (askJS).
func (n *Node) createOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return askJS(ctx, n.Log, "stream "+cfg.Name, func(ctx context.Context) (jetstream.Stream, error) {
		return n.js.CreateOrUpdateStream(ctx, cfg)
	})
}
