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
// makes it again while none comes, until ctx ends. JetStream answers nothing
// while a replicated stream or bucket is still electing its leader, as on
// servers that have just started or lost one of theirs: a node starting then
// waits instead of failing. f must be idempotent (a look-up, a
// create-or-update, the create of a stream that another node may have
// created meanwhile).
func askJS[T any](ctx context.Context, log *slog.Logger, what string, f func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, jsAttempt)
		v, err := f(actx)
		cancel()
		if ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return v, err
		}
		log.Warn("NATS JetStream did not answer in time; asking again", "for", what, "after", jsAttempt)
	}
}

// askPlaced is askJS, also asking again while the cluster cannot place the
// replicas yet ("no suitable peers": a cluster that just formed has not
// placed every server), for buckets and streams whose replicas are what the
// chat stream got, so that the cluster can place them once it has formed.
func askPlaced[T any](ctx context.Context, log *slog.Logger, what string, f func(context.Context) (T, error)) (T, error) {
	for {
		v, err := askJS(ctx, log, what, f)
		if !noPeers(err) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// noPeers reports JetStream's "no suitable peers for placement" (10005).
func noPeers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10005
}

// createOrUpdateKV creates a key-value bucket or updates its configuration
// (askPlaced).
func (n *Node) createOrUpdateKV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return askPlaced(ctx, n.Log, "bucket "+cfg.Bucket, func(ctx context.Context) (jetstream.KeyValue, error) {
		return n.js.CreateOrUpdateKeyValue(ctx, cfg)
	})
}

// createOrUpdateStream creates a stream or updates its configuration
// (askPlaced).
func (n *Node) createOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return askPlaced(ctx, n.Log, "stream "+cfg.Name, func(ctx context.Context) (jetstream.Stream, error) {
		return n.js.CreateOrUpdateStream(ctx, cfg)
	})
}
