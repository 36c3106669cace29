package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StageBucket holds each stage's live talk: key = stage, value = the talk's
// ID. A node claims the stage before it marks a talk live in the bucket of
// talks and releases it when that talk stops, so that two nodes starting
// two talks of one stage at once cannot both succeed (the conditional
// writes of talk.json guard one talk, not the stage).
const StageBucket = "SALON_STAGE_TALKS"

// StageClaims is the stages' live-talk claims, changed by compare-and-set
// (Create, Update at the revision read). Safe for concurrent use.
type StageClaims struct {
	kv jetstream.KeyValue
}

// StageClaims opens (creating) the bucket of stage claims.
func (n *Node) StageClaims(ctx context.Context) (*StageClaims, error) {
	replicas := 1
	if n.chat != nil {
		replicas = n.chat.CachedInfo().Config.Replicas
	}
	kv, err := n.keyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      StageBucket,
		Description: "salon: the talk live on each stage (claimed at start, released at stop)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open the NATS stage bucket %s: %w", StageBucket, err)
	}
	return &StageClaims{kv: kv}, nil
}

// Claim makes talk the stage's live talk. It succeeds ("") when the stage
// has no claim, when talk holds it already, and when stale says the holder
// (claimed age ago) is no longer live, taking the claim over. Otherwise it
// returns the holder. A claim changed by another node meanwhile is read
// again.
func (c *StageClaims) Claim(ctx context.Context, stage, talk string, stale func(holder string, age time.Duration) bool) (string, error) {
	for {
		e, err := c.kv.Get(ctx, stage)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = c.kv.Create(ctx, stage, []byte(talk))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another node claimed it first: look at its claim
			}
			if err != nil {
				return "", fmt.Errorf("claim stage %s in the NATS bucket %s: %w; check the NATS servers", stage, StageBucket, err)
			}
			return "", nil
		case err != nil:
			return "", fmt.Errorf("read stage %s's claim in the NATS bucket %s: %w; check the NATS servers", stage, StageBucket, err)
		}
		holder := string(e.Value())
		if holder == talk {
			return "", nil
		}
		if !stale(holder, time.Since(e.Created())) {
			return holder, nil
		}
		_, err = c.kv.Update(ctx, stage, []byte(talk), e.Revision())
		if isWrongRevision(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("take stage %s's claim over from talk %s in the NATS bucket %s: %w; check the NATS servers", stage, holder, StageBucket, err)
		}
		return "", nil
	}
}

// Release gives the stage's claim up if talk holds it (another talk's claim
// is left alone).
func (c *StageClaims) Release(ctx context.Context, stage, talk string) error {
	for {
		e, err := c.kv.Get(ctx, stage)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stage %s's claim in the NATS bucket %s: %w; check the NATS servers", stage, StageBucket, err)
		}
		if string(e.Value()) != talk {
			return nil
		}
		err = c.kv.Delete(ctx, stage, jetstream.LastRevision(e.Revision()))
		if isWrongRevision(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("release stage %s's claim in the NATS bucket %s: %w; check the NATS servers", stage, StageBucket, err)
		}
		return nil
	}
}

// isWrongRevision reports a compare-and-set that lost: the key changed
// since it was read.
func isWrongRevision(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
