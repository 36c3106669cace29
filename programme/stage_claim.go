package programme

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/salon/salon/archive"
)

// On one node the library refuses a second live talk on a stage (it knows
// every talk). On a cluster two nodes may start two talks of one stage at
// the same instant, each library seeing none live; so the stage's live talk
// is also claimed where every node sees it (StageClaims), by compare-and-set,
// before talk.json is written, and released when the talk stops.

// stageClaims is each stage's live talk, shared by the nodes;
// *cluster.StageClaims satisfies it.
type stageClaims interface {
	// Claim makes talk the stage's live talk and returns "", or returns the
	// talk that holds the stage when stale(holder, age of its claim) is false.
	Claim(ctx context.Context, stage, talk string, stale func(holder string, age time.Duration) bool) (string, error)
	// Release gives the stage up if talk holds it.
	Release(ctx context.Context, stage, talk string) error
}

// claimStage claims t's stage before t starts; opMu held. It reports
// whether a claim was made (to release if the start then fails). An error
// says the stage is busy (ErrConflict, as the library says on one node) or
// the claim could not be made.
func (p *Programme) claimStage(ctx context.Context, t archive.Talk) (bool, error) {
	if p.StageClaims == nil || t.Recording != nil {
		return false, nil // the library refuses a live or ended talk itself
	}
	holder, err := p.StageClaims.Claim(ctx, t.Stage, t.ID, func(holder string, age time.Duration) bool {
		return p.claimStale(ctx, holder, age)
	})
	if err != nil {
		return false, fmt.Errorf("talk %s not started: %w", t.ID, err)
	}
	if holder != "" {
		return false, fmt.Errorf("talk %q is live on stage %s; stop it first: %w", holder, t.Stage, archive.ErrConflict)
	}
	// The stage is ours: a talk this node still thinks live there stopped
	// on another node (its notice not here yet), so read it again.
	if other, ok := p.Talks.LiveOn(t.Stage); ok && other.ID != t.ID {
		if err := p.Talks.Reload(ctx, other.ID); err != nil {
			p.Log.Warn("a talk another node stopped could not be read again", "talk", other.ID, "error", err)
		}
	}
	return true, nil
}

// claimStale says whether a stage's claim by talk holder may be taken over:
// the holder, read again from the store, has ended or is gone, or it is not
// live although it was claimed longer ago than a start may take (the node
// that claimed it stopped before writing talk.json).
func (p *Programme) claimStale(ctx context.Context, holder string, age time.Duration) bool {
	err := p.Talks.Reload(ctx, holder)
	if errors.Is(err, archive.ErrNotFound) {
		return true
	}
	if err != nil {
		p.Log.Warn("a stage's claimed talk could not be read again; the claim is kept", "talk", holder, "error", err)
		return false
	}
	t, err := p.Talks.Get(holder)
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return true
	case err != nil:
		return false
	case t.Live():
		return false
	case t.Recording != nil:
		return true // ended: its stop did not release the claim
	default:
		return age > opTimeout
	}
}

// releaseStage gives the stage up after talk stopped (or did not start).
// A claim left behind is taken over by the next start on the stage, since
// its talk is not live.
func (p *Programme) releaseStage(ctx context.Context, stage, talk string) {
	if p.StageClaims == nil {
		return
	}
	if err := p.StageClaims.Release(ctx, stage, talk); err != nil {
		p.Log.Warn("a stage's claim was not released; the next start on the stage takes it over", "stage", stage, "talk", talk, "error", err)
	}
}
