package archive

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Start marks the talk live from at (zero: now) and cuts its replay, which
// grows with RunUpdated. It is ErrConflict when the talk is live already,
// when another talk is live on the stage, and when the talk has ended (PATCH
// its recording window to change it).
func (l *Library) Start(ctx context.Context, id string, at time.Time) (Talk, error) {
	if at.IsZero() {
		at = l.Now()
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return retrying(ctx, l, func() (Talk, error) { return l.start(ctx, id, at) })
}

// start is Start, writeMu held.

func (l *Library) start(ctx context.Context, id string, at time.Time) (Talk, error) {
	t, err := l.current(id)
	if err != nil {
		return Talk{}, err
	}
	switch {
	case t.Live():
		return Talk{}, fmt.Errorf("talk %q is live already (since %s): %w", id, fmtTime(t.Recording.Start), ErrConflict)
	case t.Recording != nil:
		return Talk{}, fmt.Errorf("talk %q ended at %s; to change its recording, PATCH its recording window instead: %w",
			id, fmtTime(*t.Recording.End), ErrConflict)
	}
	t.Recording = &Window{Start: at.UTC()}
	if err := l.checkLive(t); err != nil {
		return Talk{}, err
	}
	return l.save(ctx, t, true)
}

// Stop ends the talk's recording window at at (zero: now) and re-cuts its
// replay: VOD once the recording covers the end. ErrConflict when the talk
// never started or has stopped; ErrInvalid when at is not after the start.
func (l *Library) Stop(ctx context.Context, id string, at time.Time) (Talk, error) {
	if at.IsZero() {
		at = l.Now()
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return retrying(ctx, l, func() (Talk, error) { return l.stop(ctx, id, at) })
}

// stop is Stop, writeMu held.

func (l *Library) stop(ctx context.Context, id string, at time.Time) (Talk, error) {
	at = at.UTC()
	t, err := l.current(id)
	if err != nil {
		return Talk{}, err
	}
	switch {
	case t.Recording == nil:
		return Talk{}, fmt.Errorf("talk %q has not started; start it first: %w", id, ErrConflict)
	case t.Recording.End != nil:
		return Talk{}, fmt.Errorf("talk %q stopped already (at %s); PATCH its recording window to change it: %w",
			id, fmtTime(*t.Recording.End), ErrConflict)
	case !at.After(t.Recording.Start):
		return Talk{}, invalidf("stop time %s is not after the talk's start %s", fmtTime(at), fmtTime(t.Recording.Start))
	}
	t.Recording.End = &at
	return l.save(ctx, t, true)
}

// Recut rewrites the talk's replay playlist from the stage's recording.
func (l *Library) Recut(ctx context.Context, id string) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	t, err := l.current(id)
	if err != nil {
		return err
	}
	return l.cut(ctx, t)
}

// RunUpdated re-cuts every talk on stage whose replay is not final: live
// talks, so that their EVENT playlist grows, and ended talks whose end the
// recording does not cover yet. The recorder calls it after it stores a run
// playlist of stage. Errors are logged; the next call retries.
func (l *Library) RunUpdated(ctx context.Context, stage string) {
	l.mu.RLock()
	var ids []string
	for id := range l.pending {
		if t, ok := l.talks[id]; ok && t.Stage == stage {
			ids = append(ids, id)
		}
	}
	l.mu.RUnlock()
	slices.Sort(ids)
	for _, id := range ids {
		if err := l.recutPending(ctx, id); err != nil {
			l.Log.Warn("re-cut of a talk's replay failed; retried on the next run update", "talk", id, "stage", stage, "error", err)
		}
	}
}

func (l *Library) recutPending(ctx context.Context, id string) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.RLock()
	t, ok := l.talks[id]
	ok = ok && l.pending[id]
	l.mu.RUnlock()
	if !ok {
		return nil // deleted, or finished by another cut meanwhile
	}
	return l.cut(ctx, t.clone())
}

// RecutFinal re-cuts an ended talk's replay and reports whether it is final
// (VOD: the stored recording covers the talk's end). The programme calls it
// until it is. A do_not_record talk has no replay: it is final at once.
func (l *Library) RecutFinal(ctx context.Context, id string) (bool, error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	t, err := l.current(id)
	if err != nil {
		return false, err
	}
	if !t.HasEnded() {
		return false, fmt.Errorf("talk %q has not ended: %w", id, ErrConflict)
	}
	if err := l.cut(ctx, t); err != nil {
		return false, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return !l.pending[id], nil
}

// cut writes t's replay and records whether it is final; writeMu held. A
// do_not_record talk is never cut.
func (l *Library) cut(ctx context.Context, t Talk) error {
	if t.DoNotRecord {
		l.setPending(t.ID, false)
		return nil
	}
	sel, err := Select(ctx, l.Store, t)
	if err != nil {
		return err
	}
	final, err := l.writeCut(ctx, t, &sel)
	if err != nil {
		return fmt.Errorf("cut talk %q: %w", t.ID, err)
	}
	l.setPending(t.ID, !final)
	return nil
}

func (l *Library) setPending(id string, pending bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pending {
		l.pending[id] = true
	} else {
		delete(l.pending, id)
	}
}
