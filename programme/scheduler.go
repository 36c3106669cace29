package programme

import (
	"context"
	"time"

	"github.com/salon/salon/archive"
)

// The scheduler acts on the stages in auto mode. Its rules, per stage:
//
//   - A talk is started at its StartsAt (before its EndsAt), stopping the
//     talk live on the stage — but only a talk that went live before that
//     StartsAt: a talk the organiser started by hand later is not cut by a
//     start time that had already passed.
//   - A talk the schedule started is stopped at its EndsAt plus Overrun,
//     unless a later talk's start comes first (which then stops it). A talk
//     started by hand is stopped only by the next talk's scheduled start.
//   - A talk that has ended is never started again, so a talk the organiser
//     stopped by hand stays stopped; a talk whose slot has passed is skipped.
//
// Schedule edits (the store's Changed), auto switches and the clock wake it;
// each pass looks at the talks as they are now, so moved, added and removed
// talks count at once.

// runScheduler is the scheduler's goroutine.
func (p *Programme) runScheduler() {
	defer p.wg.Done()
	var waiting []chan struct{}
	for {
		changed := p.Talks.Changed() // before the pass: a change during it runs another
		wake := p.pass()
		for _, done := range waiting {
			close(done)
		}
		waiting = nil
		var timerC <-chan time.Time
		var timer Timer
		if !wake.IsZero() {
			timer = p.Clock.NewTimer(max(wake.Sub(p.Clock.Now()), 0))
			timerC = timer.C()
		}
		select {
		case <-p.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-changed:
		case <-timerC:
		case <-p.wakeC:
		case done := <-p.kick:
			waiting = append(waiting, done)
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// wake makes the scheduler look again now (or right after its pass).
func (p *Programme) wake() {
	select {
	case p.wakeC <- struct{}{}:
	default: // a wake is pending already
	}
}

// settle waits until the scheduler has made a full pass after the call
// (tests: after moving the fake clock).
func (p *Programme) settle(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case p.kick <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pass does what is due and returns when to look again (zero: only on a
// change). It also tells viewers of talks that went live or ended without
// the programme (a PATCHed recording window, a deleted talk).
func (p *Programme) pass() time.Time {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	by := map[string][]archive.Talk{}
	for _, t := range p.Talks.List() {
		by[t.Stage] = append(by[t.Stage], t)
	}
	p.mu.Lock()
	stages := make([]string, 0, len(p.told)+len(by))
	for s := range p.told {
		stages = append(stages, s)
	}
	p.mu.Unlock()
	for s := range by {
		stages = append(stages, s)
	}
	for _, s := range stages {
		p.tell(s)
	}
	now := p.Clock.Now()
	var wake time.Time
	if !p.leading() {
		return wake // another node runs the schedule
	}
	for stage, ts := range by {
		if !p.Auto(stage) {
			continue
		}
		if at := p.passStage(stage, order(ts), now); !at.IsZero() && (wake.IsZero() || at.Before(wake)) {
			wake = at
		}
	}
	return wake
}

// passStage applies the rules to one stage in auto mode; opMu held.
func (p *Programme) passStage(stage string, ts []archive.Talk, now time.Time) time.Time {
	defer p.tell(stage)
	var live, current *archive.Talk
	for i := range ts {
		t := &ts[i]
		if t.Live() {
			live = t
		}
		if !t.StartsAt.IsZero() && !t.StartsAt.After(now) {
			current = t // the scheduled talk whose start passed last
		}
	}
	ctx := p.ctx
	if current != nil && current.Recording == nil &&
		(current.EndsAt.IsZero() || now.Before(current.EndsAt)) &&
		(live == nil || current.StartsAt.After(live.Recording.Start)) {
		if live != nil {
			if _, err := p.stop(ctx, live.ID, "schedule"); err != nil {
				p.Log.Error("the schedule could not stop the live talk for the next; retrying", "talk", live.ID, "next", current.ID, "stage", stage, "error", err)
				return now.Add(retryAfter)
			}
		}
		started, err := p.start(ctx, current.ID, true)
		if err != nil {
			p.Log.Error("the schedule could not start a talk; retrying", "talk", current.ID, "stage", stage, "error", err)
			return now.Add(retryAfter)
		}
		live = &started
	}

	// The next start, and the stop of an overrunning talk the schedule started.
	var wake time.Time
	for _, t := range ts {
		if t.Recording == nil && t.StartsAt.After(now) {
			wake = t.StartsAt
			break
		}
	}
	if live == nil || live.EndsAt.IsZero() {
		return wake
	}
	p.mu.Lock()
	byAuto := p.autoStarted[live.ID]
	p.mu.Unlock()
	if !byAuto {
		return wake
	}
	limit := live.EndsAt.Add(p.Overrun)
	for _, t := range ts {
		if t.Recording == nil && t.StartsAt.After(live.Recording.Start) && !t.StartsAt.After(limit) &&
			(t.EndsAt.IsZero() || now.Before(t.EndsAt)) {
			return wake // that talk's start stops this one (a talk whose slot passed will not)
		}
	}
	if now.Before(limit) {
		if wake.IsZero() || limit.Before(wake) {
			wake = limit
		}
		return wake
	}
	if _, err := p.stop(ctx, live.ID, "schedule"); err != nil {
		p.Log.Error("the schedule could not stop an overrunning talk; retrying", "talk", live.ID, "stage", stage, "error", err)
		return now.Add(retryAfter)
	}
	return wake
}
