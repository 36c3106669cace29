package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Several salons may share one bucket (a cluster: DESIGN.md "Contract: more
// than one node"). Each keeps the talks in memory; the bucket is the truth.
// What two nodes can race on is written conditionally:
//
//   - talk.json: save writes it If-Match the ETag this library read (or
//     If-None-Match: * for a new talk). When another node wrote it meanwhile
//     the write fails with ErrPreconditionFailed; retrying reads the talk
//     again and runs the whole change again on it (its checks included), so
//     neither node's change is lost.
//   - every object of a talk's cut (putCut): the replay playlist
//     (talks/{id}/index.m3u8), the rendition cuts (index-*.m3u8), the
//     caption playlists and segments, the slide track (slides.vtt). Each is
//     written If-Match the ETag this library last wrote or noted (or
//     If-None-Match: * when it noted none). When another node wrote one of
//     them since, writeCut notes them all again (one listing), then reads
//     the talk and selects its recording again, and cuts anew. So each
//     successful write was made from a view of the talk and the recording
//     taken after the write it replaces: a node holding a stale recording
//     window, or an older listing of the stage's runs, never overwrites a
//     newer cut, and two nodes cutting at once leave one cut, not a mix.
//   - the talk's chat log (chat.jsonl, SaveChat): written If-Match what was
//     read, merged with the messages of the stored log that the new one
//     lacks, so neither of two nodes' logs loses a message.
//
// Reload and ReloadAll bring a node's memory up to date when another node
// says it changed a talk, or after missed notices.

// ChangeNotices is told of each talk a Library wrote (Library.Notices).
type ChangeNotices interface {
	Changed(id string)
}

func (l *Library) notice(id string) {
	if l.Notices != nil {
		l.Notices.Changed(id)
	}
}

// maxWriteRetries bounds how often one change is run again because another
// node wrote the same object in between.
const maxWriteRetries = 10

// raceBackoff waits a random while, longer with each attempt (up to
// 20 ms × attempt), before a write that lost a race to another node is
// tried again: two nodes that keep invalidating each other's writes (both
// re-cutting one talk) fall out of step instead of losing every attempt.
func raceBackoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(time.Duration(attempt) * 20 * time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// staleError is a save refused because talk.json changed in the store since
// this library read it; it wraps ErrPreconditionFailed.
type staleError struct {
	id  string
	err error
}

func (e *staleError) Error() string {
	return fmt.Sprintf("talk %q was changed elsewhere meanwhile: %v", e.id, e.err)
}

func (e *staleError) Unwrap() error { return e.err }

// cutTags is what this library knows of the objects of one talk's cut in
// the store: each key's ETag after this library's last write of it, or as
// the last listing noted it; a key missing was absent then.
type cutTags map[string]string

// retrying runs change, writeMu held. When its save found talk.json changed
// by another node, the talk is read again and change runs again on it.
func retrying[T any](ctx context.Context, l *Library, change func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := change()
		var stale *staleError
		if !errors.As(err, &stale) {
			return v, err
		}
		if attempt == maxWriteRetries {
			return v, fmt.Errorf("%w; it kept changing for %d attempts: try again", err, attempt)
		}
		l.Log.Info("talk.json was changed on another node since this one read it; reading it again", "talk", stale.id, "attempt", attempt)
		if err := raceBackoff(ctx, attempt); err != nil {
			var zero T
			return zero, err
		}
		if err := l.refresh(ctx, stale.id); err != nil {
			var zero T
			return zero, err
		}
	}
}

// editChecked runs edit on talk id as it is now, writeMu held and again
// (on a fresh read) when its save finds talk.json changed by another node.
// check, when set, sees the talk first and may refuse the change: its error
// is returned and edit does not run.
func (l *Library) editChecked(ctx context.Context, id string, check func(Talk) error, edit func(Talk) error) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	_, err := retrying(ctx, l, func() (struct{}, error) {
		t, err := l.current(id)
		if err != nil {
			return struct{}{}, err
		}
		if check != nil {
			if err := check(t); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, edit(t)
	})
	return err
}

// saveCondition is the condition of the next save of talk id's talk.json.
func (l *Library) saveCondition(id string) Condition {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if _, ok := l.talks[id]; !ok {
		return Condition{IfNoneMatch: true}
	}
	return Condition{IfMatch: l.etags[id]} // "": a store without ETags, written blindly
}

// Reload reads talk id again from the store: its talk.json (gone: the talk
// is removed) and its speaker link. A node calls it when another node says
// it changed the talk.
func (l *Library) Reload(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if err := l.refresh(ctx, id); err != nil {
		return err
	}
	return l.refreshSpeaker(ctx, id)
}

// ReloadAll brings every talk up to date with the store: talks whose
// talk.json changed (by ETag) are read again, talks gone are removed, and
// every speaker link is read again. A node calls it when it may have missed
// other nodes' notices (after its NATS connection came back).
func (l *Library) ReloadAll(ctx context.Context) error {
	objs, speakerIDs, err := l.listTalks(ctx)
	if err != nil {
		return err
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	seen := map[string]bool{}
	var errs []error
	for _, o := range objs {
		id := o.id
		seen[id] = true
		l.mu.RLock()
		tag, known := l.etags[id]
		l.mu.RUnlock()
		if known && tag != "" && tag == o.ETag {
			continue
		}
		errs = append(errs, l.refresh(ctx, id))
	}
	l.mu.RLock()
	var gone []string
	for id := range l.talks {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	l.mu.RUnlock()
	for _, id := range gone {
		errs = append(errs, l.refresh(ctx, id))
	}
	speakers := map[string]bool{}
	for _, id := range speakerIDs {
		speakers[id] = true
		errs = append(errs, l.refreshSpeaker(ctx, id))
	}
	l.mu.Lock()
	for id := range l.speakers {
		if !speakers[id] {
			delete(l.speakers, id)
		}
	}
	l.mu.Unlock()
	return errors.Join(errs...)
}

// refresh reads talk id's talk.json again into memory; writeMu held. A
// talk read again whose recording is recent is marked for a re-cut, so the
// node that records its stage grows (or finishes) its replay.
func (l *Library) refresh(ctx context.Context, id string) error {
	t, tag, err := l.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		l.mu.Lock()
		_, had := l.talks[id]
		delete(l.talks, id)
		delete(l.broken, id)
		delete(l.pending, id)
		delete(l.etags, id)
		delete(l.speakers, id)
		if had {
			l.notifyLocked()
		}
		l.mu.Unlock()
		delete(l.cutTags, id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read talk %q again from the archive: %w", id, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, had := l.talks[id]
	l.talks[id], l.etags[id] = t, tag
	delete(l.broken, id)
	switch {
	case t.DoNotRecord || t.Recording == nil:
		delete(l.pending, id)
	case t.Live() || l.Now().Sub(*t.Recording.End) < recentlyEnded:
		if !had || !sameWindow(old.Recording, t.Recording) || old.Stage != t.Stage {
			l.pending[id] = true
		}
	}
	if !had || fingerprintChanged(old, t) {
		l.notifyLocked()
	}
	return nil
}

// fingerprintChanged reports whether a talk read again differs from the
// one in memory (a reload of an unchanged talk wakes nobody).
func fingerprintChanged(a, b Talk) bool {
	ja, err1 := jsonOf(a)
	jb, err2 := jsonOf(b)
	return err1 != nil || err2 != nil || ja != jb
}

// refreshSpeaker reads talk id's speaker link again; writeMu held.
func (l *Library) refreshSpeaker(ctx context.Context, id string) error {
	h, err := l.loadSpeaker(ctx, id)
	l.mu.Lock()
	defer l.mu.Unlock()
	old, had := l.speakers[id]
	switch {
	case errors.Is(err, ErrNotFound):
		delete(l.speakers, id)
	case err != nil:
		return fmt.Errorf("read the speaker link of talk %q again: %w", id, err)
	default:
		if _, ok := l.talks[id]; ok {
			l.speakers[id] = h
		}
	}
	if now, has := l.speakers[id]; has != had || now != old {
		l.notifyLocked()
	}
	return nil
}

// writeCut writes t's replay from sel (writeReplay) and its slide track;
// writeMu held. Every object is written only over the version this library
// wrote or noted last (putCut): when another node wrote one since (or this
// library has not noted them yet), the objects' ETags are noted, the talk is
// read again and its recording selected again, and that is cut.
func (l *Library) writeCut(ctx context.Context, t Talk, sel *Selection) (final bool, err error) {
	for attempt := 1; ; attempt++ {
		if l.cutTags[t.ID] == nil {
			if t, sel, err = l.recheckCut(ctx, t); err != nil {
				return false, err
			}
			if t.DoNotRecord || t.Recording == nil {
				return true, nil // nothing to cut any more
			}
		}
		final, err = l.writeReplay(ctx, t, sel)
		if err == nil {
			err = l.writeSlidesVTT(ctx, t, sel)
		}
		if err == nil {
			return final, nil
		}
		if !errors.Is(err, ErrPreconditionFailed) || attempt == maxWriteRetries {
			return false, err
		}
		l.Log.Info("the talk's cut was written by another node since this one noted it; cutting the talk as it is now", "talk", t.ID, "attempt", attempt)
		if err := raceBackoff(ctx, attempt); err != nil {
			return false, err
		}
	}
}

// recheckCut notes the ETags of the talk's objects (one listing), then
// reads the talk again and selects its recording again; writeMu held. The
// order matters: a cut made from what is read after the ETags were noted is
// at least as new as the objects it replaces (a node saves talk.json before
// it cuts, and the stored recording only grows).
func (l *Library) recheckCut(ctx context.Context, t Talk) (Talk, *Selection, error) {
	objs, err := l.Store.List(ctx, "talks/"+t.ID+"/")
	if err != nil {
		return t, nil, fmt.Errorf("list the replay of talk %q: %w", t.ID, err)
	}
	tags := cutTags{}
	for _, o := range objs {
		tags[o.Key] = o.ETag
	}
	if err := l.refresh(ctx, t.ID); err != nil {
		return t, nil, err
	}
	nt, err := l.current(t.ID)
	if err != nil {
		return t, nil, err
	}
	if nt.DoNotRecord || nt.Recording == nil {
		return nt, nil, nil
	}
	s, err := Select(ctx, l.Store, nt)
	if err != nil {
		return t, nil, err
	}
	l.cutTags[t.ID] = tags
	return nt, &s, nil
}

// putCut writes one object of talk id's cut over the version this library
// wrote or noted last (cutTags); writeMu held. ErrPreconditionFailed when
// they are not noted or another node wrote it since: the talk's tags are
// then forgotten, and the next cut notes them again.
func (l *Library) putCut(ctx context.Context, id, key string, body []byte) error {
	tags := l.cutTags[id]
	if tags == nil {
		return fmt.Errorf("replay of talk %q not noted yet: %w", id, ErrPreconditionFailed)
	}
	etag, present := tags[key]
	// A store without ETags ("") is written blindly.
	tag, err := l.Store.PutIf(ctx, key, body, "", Condition{IfMatch: etag, IfNoneMatch: !present})
	if err != nil {
		if errors.Is(err, ErrPreconditionFailed) {
			delete(l.cutTags, id)
		}
		return fmt.Errorf("write %s: %w", key, err)
	}
	tags[key] = tag
	return nil
}

// putReplay writes talk id's replay playlist (putCut); writeMu held.
func (l *Library) putReplay(ctx context.Context, id string, body []byte) error {
	return l.putCut(ctx, id, TalkPlaylistKey(id), body)
}

func jsonOf(t Talk) (string, error) {
	b, err := json.Marshal(t)
	return string(b), err
}
