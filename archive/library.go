package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Library is the programme: every talk's metadata (talks/{id}/talk.json),
// held in memory and written through to the Store, and every talk's replay
// cut (talks/{id}/index.m3u8). The bucket is the truth: a Library
// initialized on a bucket another salon wrote has the whole library back.
//
// Concurrency: mu guards the in-memory maps and is never held during storage
// I/O, so List, Get and LiveOn never wait on the bucket. writeMu serialises
// every change, across talks: a method that writes holds it from its checks
// (id taken, another talk live on the stage) through the storage writes to
// publishing the result, so checks and writes form one step and a re-cut
// never races a PATCH or a delete. Storage writes come before the in-memory
// change, so a failed write leaves both as they were. Across salons sharing
// the bucket (a cluster), talk.json and the replay are written conditionally
// and a change another node made meanwhile is read and kept
// (library_sync.go).
//
// Call Initialize before any other method.
type Library struct {
	// Store holds talks and recordings (required).
	Store Store
	Log   *slog.Logger
	// Now is the clock for Start and Stop without a time (default time.Now).
	Now func() time.Time
	// Zone is the event's time zone, for ids made from a start time
	// ("main-1030"). Default UTC.
	Zone *time.Location
	// Notices, when set, is told of each talk this library wrote (saved,
	// deleted, its speaker link issued or revoked), after the write: on a
	// cluster it tells the other nodes, which Reload the talk. It must not
	// block (it is called with the write lock held).
	Notices ChangeNotices

	writeMu sync.Mutex

	mu      sync.RWMutex
	talks   map[string]Talk
	broken  map[string]bool // ids with a talk.json that did not load: taken, deletable
	pending map[string]bool // talks whose replay is not final: re-cut by RunUpdated
	// origins (the first segment's decode time, by its key) and
	// captionStamps (what each replay caption copy was made from) spare a
	// re-cut the bucket reads: writeMu guards them (captions_replay.go).
	origins       map[string]time.Duration
	captionStamps map[string]string
	// speakers holds the SHA-256 of each talk's speaker token (speaker.json).
	speakers map[string][32]byte
	// uploading holds the slide keys being uploaded now (AddSlide).
	uploading map[string]bool
	// changed is closed and replaced when a talk is saved or deleted
	// (Changed); nil until the first call of Changed.
	changed chan struct{}
	// etags holds the ETag of each talk's talk.json as this library last
	// read or wrote it: saves are conditional on it, so a change another
	// node made meanwhile is read and kept, never overwritten
	// (library_sync.go). "" is a store without ETags: written blindly.
	etags map[string]string
	// cutTags holds what this library knows of the objects of each talk's
	// cut in the store (library_sync.go); writeMu guards it.
	cutTags map[string]cutTags
}

// Changed returns a channel that is closed at the next change of any talk
// (saved or deleted): the programme's scheduler waits on it to see schedule
// edits at once, whoever made them. Call it again for the change after.
func (l *Library) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// notifyLocked wakes the waiters of Changed; mu held for writing.
func (l *Library) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// recentlyEnded is how long after its end an ended talk's replay is checked
// at start-up for being final; older replays are taken as final (Recut or a
// PATCH of the window fixes one that is not).
const recentlyEnded = 24 * time.Hour

// Initialize loads every talks/{id}/talk.json from the Store. A talk.json
// that cannot be read, parsed or validated is skipped and logged: one bad
// object must not keep the library from starting.
func (l *Library) Initialize(ctx context.Context) error {
	if l.Store == nil {
		return errors.New("talk library: no store configured")
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	objs, speakerIDs, err := l.listTalks(ctx)
	if err != nil {
		return err
	}
	talks, broken, pending, etags := map[string]Talk{}, map[string]bool{}, map[string]bool{}, map[string]string{}
	speakers := map[string][32]byte{}
	now := l.Now()
	for _, o := range objs {
		id := o.id
		t, tag, err := l.load(ctx, id)
		if err != nil {
			l.Log.Warn("skipping a talk that does not load; fix or delete its talk.json", "key", o.Key, "error", err)
			broken[id] = true
			continue
		}
		talks[id], etags[id] = t, tag
		switch {
		case t.DoNotRecord:
			// never cut
		case t.Live():
			pending[id] = true
		case t.Recording != nil && now.Sub(*t.Recording.End) < recentlyEnded:
			if !l.replayFinal(ctx, id) {
				pending[id] = true
			}
		}
	}
	for _, id := range speakerIDs {
		if _, ok := talks[id]; !ok {
			continue // a talk that did not load has no speaker either
		}
		h, err := l.loadSpeaker(ctx, id)
		if err != nil {
			l.Log.Warn("the talk's speaker link does not load; issue a new one", "talk", id, "error", err)
			continue
		}
		speakers[id] = h
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	l.talks, l.broken, l.pending, l.speakers, l.etags = talks, broken, pending, speakers, etags
	l.uploading = map[string]bool{}
	l.cutTags = map[string]cutTags{}
	l.mu.Unlock()
	l.Log.Info("talk library loaded", "talks", len(talks), "skipped", len(broken))
	return nil
}

// talkObject is the talk.json of talk id in the Store.
type talkObject struct {
	ObjectInfo
	id string
}

// listTalks lists what the Store holds of talks: their talk.json objects,
// and the ids of the talks with a speaker.json. Other keys are left out.
func (l *Library) listTalks(ctx context.Context) ([]talkObject, []string, error) {
	objs, err := l.Store.List(ctx, "talks/")
	if err != nil {
		return nil, nil, fmt.Errorf("talk library: list talks: %w; check that the archive is reachable", err)
	}
	var talks []talkObject
	var speakerIDs []string
	for _, o := range objs {
		if IsSpeakerKey(o.Key) {
			speakerIDs = append(speakerIDs, strings.TrimSuffix(strings.TrimPrefix(o.Key, "talks/"), "/speaker.json"))
		} else if id, ok := talkIDOfKey(o.Key); ok {
			talks = append(talks, talkObject{ObjectInfo: o, id: id})
		}
	}
	return talks, speakerIDs, nil
}

// talkIDOfKey returns id for a key "talks/{id}/talk.json".
func talkIDOfKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "talks/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/talk.json")
	return id, ok && ValidTalkID(id)
}

// load reads talks/{id}/talk.json and its ETag.
func (l *Library) load(ctx context.Context, id string) (Talk, string, error) {
	data, info, err := readSmallInfo(ctx, l.Store, TalkKey(id), maxTalkJSONSize)
	if err != nil {
		return Talk{}, "", err
	}
	var t Talk
	if err := json.Unmarshal(data, &t); err != nil {
		return Talk{}, "", fmt.Errorf("parse: %w", err)
	}
	if err := t.Validate(); err != nil {
		return Talk{}, "", err
	}
	if t.ID != id {
		return Talk{}, "", fmt.Errorf("talk.json says id %q, but it is stored under %q", t.ID, id)
	}
	return normalize(t), info.ETag, nil
}

// replayFinal reports whether the talk's replay playlist exists and ended.
func (l *Library) replayFinal(ctx context.Context, id string) bool {
	data, err := readSmall(ctx, l.Store, TalkPlaylistKey(id), maxRunPlaylistSize)
	if err == nil && isMultivariant(data) {
		return l.variantsFinal(ctx, id, data)
	}
	return err == nil && bytes.Contains(data, []byte("\n#EXT-X-ENDLIST"))
}

func readSmall(ctx context.Context, store Store, key string, limit int64) ([]byte, error) {
	data, _, err := readSmallInfo(ctx, store, key, limit)
	return data, err
}

// readSmallInfo is readSmall with the object's info (its ETag is the one
// of the bytes read).
func readSmallInfo(ctx context.Context, store Store, key string, limit int64) ([]byte, ObjectInfo, error) {
	rc, info, err := store.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, ObjectInfo{}, fmt.Errorf("%s is larger than %d bytes", key, limit)
	}
	return data, info, nil
}

// List returns every talk, sorted by StartsAt, then ID.
func (l *Library) List() []Talk {
	l.mu.RLock()
	out := make([]Talk, 0, len(l.talks))
	for _, t := range l.talks {
		out = append(out, t.clone())
	}
	l.mu.RUnlock()
	slices.SortFunc(out, func(a, b Talk) int {
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Get returns the talk; the error wraps ErrNotFound or ErrInvalid (bad id).
func (l *Library) Get(id string) (Talk, error) {
	if err := checkID(id); err != nil {
		return Talk{}, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	t, ok := l.talks[id]
	if !ok {
		return Talk{}, notFound(id)
	}
	return t.clone(), nil
}

// LiveOn returns the talk live on stage, if any (the latest started, should
// a hand-edited bucket have two).
func (l *Library) LiveOn(stage string) (Talk, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	t, ok := l.liveOn(stage, "")
	return t.clone(), ok
}

// liveOn finds the talk live on stage other than except; mu must be held.
func (l *Library) liveOn(stage, except string) (Talk, bool) {
	var live Talk
	found := false
	for id, t := range l.talks {
		if id != except && t.Stage == stage && t.Live() && (!found || t.Recording.Start.After(live.Recording.Start)) {
			live, found = t, true
		}
	}
	return live, found
}

func checkID(id string) error {
	if !ValidTalkID(id) {
		return invalidf("talk id %q must be 1–%d of a-z, 0-9 and -", truncateRunes(id, 80), MaxTalkIDLen)
	}
	return nil
}

func notFound(id string) error {
	return fmt.Errorf("talk %q: %w; GET /api/talks lists the talks", id, ErrNotFound)
}

// current returns the talk with writeMu held: the state a change checks
// against, which no other writer can alter until the change is published.
func (l *Library) current(id string) (Talk, error) { return l.Get(id) }

// checkLive refuses t live while another talk is live on its stage.
func (l *Library) checkLive(t Talk) error {
	if !t.Live() {
		return nil
	}
	l.mu.RLock()
	other, ok := l.liveOn(t.Stage, t.ID)
	l.mu.RUnlock()
	if ok {
		return fmt.Errorf("talk %q is live on stage %s; stop it first: %w", other.ID, t.Stage, ErrConflict)
	}
	return nil
}

// Create adds a talk. An empty ID is made from the title (TalkIDFor, with -2,
// -3… when taken); an explicit ID that is taken is ErrConflict.
func (l *Library) Create(ctx context.Context, t Talk) (Talk, error) {
	t = normalize(t.clone())
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return retrying(ctx, l, func() (Talk, error) { return l.create(ctx, t) })
}

// create is Create, writeMu held. Another node creating the same id at
// once makes the save fail (If-None-Match); the retry then finds it taken.
func (l *Library) create(ctx context.Context, t Talk) (Talk, error) {
	if t.ID == "" {
		t.ID = l.freeID(TalkIDFor(t, l.Zone))
	} else if err := checkID(t.ID); err != nil {
		return Talk{}, err
	} else if l.taken(t.ID) {
		return Talk{}, fmt.Errorf("talk id %q is taken; choose another id or leave it out: %w", t.ID, ErrConflict)
	}
	if err := t.Validate(); err != nil {
		return Talk{}, err
	}
	if err := l.checkLive(t); err != nil {
		return Talk{}, err
	}
	// A speaker link left by an earlier talk of this id (a delete that
	// failed half-way) must not work for the new one.
	if err := l.revokeSpeaker(ctx, t.ID); err != nil {
		return Talk{}, err
	}
	return l.save(ctx, t, t.Recording != nil)
}

func (l *Library) taken(id string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.talks[id]
	return ok || l.broken[id]
}

func (l *Library) freeID(base string) string {
	if !l.taken(base) {
		return base
	}
	for n := 2; ; n++ {
		suffix := "-" + strconv.Itoa(n)
		id := truncateID(base, MaxTalkIDLen-len(suffix)) + suffix
		if !l.taken(id) {
			return id
		}
	}
}

// Update applies a partial update. A changed recording window (or stage of a
// recorded talk) re-cuts the replay. Nothing is written when it fails
// validation.
func (l *Library) Update(ctx context.Context, id string, p TalkPatch) (Talk, error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return retrying(ctx, l, func() (Talk, error) { return l.update(ctx, id, p) })
}

// update is Update, writeMu held.

func (l *Library) update(ctx context.Context, id string, p TalkPatch) (Talk, error) {
	old, err := l.current(id)
	if err != nil {
		return Talk{}, err
	}
	t := old.clone()
	if p.Title != nil {
		t.Title = *p.Title
	}
	if p.Speakers != nil {
		t.Speakers = slices.Clone(*p.Speakers)
	}
	if p.Stage != nil {
		t.Stage = *p.Stage
	}
	if p.StartsAt != nil {
		t.StartsAt = *p.StartsAt
	}
	if p.EndsAt != nil {
		t.EndsAt = *p.EndsAt
	}
	if p.Abstract != nil {
		t.Abstract = *p.Abstract
	}
	if p.Recording != nil {
		t.Recording = (&Talk{Recording: p.Recording}).clone().Recording
	}
	if p.GUID != nil {
		t.GUID = *p.GUID
	}
	if p.Slug != nil {
		t.Slug = *p.Slug
	}
	if p.Track != nil {
		t.Track = *p.Track
	}
	if p.Language != nil {
		t.Language = *p.Language
	}
	if p.DoNotRecord != nil {
		t.DoNotRecord = *p.DoNotRecord
	}
	if p.Hidden != nil {
		t.Hidden = *p.Hidden
	}
	t = normalize(t)
	if err := t.Validate(); err != nil {
		return Talk{}, err
	}
	if err := l.checkLive(t); err != nil {
		return Talk{}, err
	}
	recut := t.Recording != nil && (t.Stage != old.Stage || !sameWindow(t.Recording, old.Recording) || old.DoNotRecord && !t.DoNotRecord)
	if recut && !sameWindow(t.Recording, old.Recording) {
		// The live caption tracks follow the window (the trim's In and Out).
		if err := l.retimeLiveCaptions(ctx, &t); err != nil {
			return Talk{}, err
		}
	}
	if t.DoNotRecord && !old.DoNotRecord {
		// Never published: what was cut before the speaker's wish was known goes.
		if err := l.unpublish(ctx, t.ID); err != nil {
			return Talk{}, err
		}
	}
	return l.save(ctx, t, recut)
}

// unpublish deletes a talk's replay, slide track and chat log (a talk marked
// do_not_record); its talk.json and slides stay.
func (l *Library) unpublish(ctx context.Context, id string) error {
	delete(l.cutTags, id) // the next cut notes the objects' state again
	for _, key := range []string{TalkPlaylistKey(id), SlidesVTTKey(id), ChatKey(id)} {
		if err := l.Store.Delete(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("talk %q is do_not_record, but its %s could not be deleted: %w; try again", id, key, err)
		}
	}
	if err := l.deleteRenditionCuts(ctx, id); err != nil {
		return fmt.Errorf("talk %q is do_not_record, but its renditions' replays could not be deleted: %w; try again", id, err)
	}
	if err := l.deleteCaptionCuts(ctx, id); err != nil {
		return fmt.Errorf("talk %q is do_not_record, but its captions' playlists could not be deleted: %w; try again", id, err)
	}
	return nil
}

func sameWindow(a, b *Window) bool {
	if a == nil || b == nil {
		return a == b
	}
	if (a.End == nil) != (b.End == nil) {
		return false
	}
	return a.Start.Equal(b.Start) && (a.End == nil || a.End.Equal(*b.End))
}

// Delete removes the talk's speaker link (talks/{id}/speaker.json), then
// talks/{id}/talk.json, then everything else under talks/{id}/ (the replay
// playlist, slides, chat), so that a new talk with the same id starts clean.
// The stage's recording (stages/) is never touched.
func (l *Library) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if !l.taken(id) {
		return notFound(id)
	}
	if err := l.revokeSpeaker(ctx, id); err != nil {
		return err
	}
	if err := l.Store.Delete(ctx, TalkKey(id)); err != nil {
		return fmt.Errorf("delete talk %q: %w", id, err)
	}
	l.notice(id)
	l.mu.Lock()
	delete(l.talks, id)
	delete(l.broken, id)
	delete(l.pending, id)
	delete(l.etags, id)
	l.notifyLocked()
	l.mu.Unlock()
	delete(l.cutTags, id)
	prefix := "talks/" + id + "/"
	objs, err := l.Store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("talk %q is deleted, but listing what remains under %s failed: %w; delete it by hand", id, prefix, err)
	}
	for _, o := range objs {
		if err := l.Store.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("talk %q is deleted, but %s remains: %w; delete it by hand", id, o.Key, err)
		}
	}
	return nil
}

// save writes t's talk.json, publishes t, and, when recut, writes its
// replay; writeMu held. The selection is read before anything is written, so
// a bucket that cannot be read leaves everything as it was.
//
// A DoNotRecord talk is never cut: recut is ignored for it.
func (l *Library) save(ctx context.Context, t Talk, recut bool) (Talk, error) {
	t.Version = TalkVersion
	recut = recut && !t.DoNotRecord
	var sel Selection
	if recut {
		var err error
		if sel, err = Select(ctx, l.Store, t); err != nil {
			return Talk{}, err
		}
	}
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return Talk{}, fmt.Errorf("encode talk %q: %w", t.ID, err)
	}
	tag, err := l.Store.PutIf(ctx, TalkKey(t.ID), append(data, '\n'), "", l.saveCondition(t.ID))
	if errors.Is(err, ErrPreconditionFailed) {
		return Talk{}, &staleError{id: t.ID, err: err}
	}
	if err != nil {
		return Talk{}, fmt.Errorf("save talk %q: %w", t.ID, err)
	}
	l.notice(t.ID)
	l.mu.Lock()
	l.talks[t.ID] = t.clone()
	l.etags[t.ID] = tag
	delete(l.broken, t.ID)
	if recut {
		l.pending[t.ID] = true // until the playlist below is written
	}
	if t.DoNotRecord {
		delete(l.pending, t.ID)
	}
	l.notifyLocked()
	l.mu.Unlock()
	if recut {
		final, err := l.writeCut(ctx, t, &sel)
		if err != nil {
			return Talk{}, fmt.Errorf("talk %q is saved, but its replay is not: %w; repeat the request to retry", t.ID, err)
		}
		l.setPending(t.ID, !final)
	}
	return t.clone(), nil
}
