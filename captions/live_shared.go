package captions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// On several nodes (salon -nats) the cues posted on any node are one log
// that every node applies in the same order: Add appends the cue to it and
// Live holds the cues the log delivers, its own and the other nodes', in
// the log's order. The log replaces the journal: a node that starts reads
// the log back (every cue of the last Keep), and the journal directory is
// not used.

// SharedCues opens the deployment's log of live cues; cmd/salon adapts the
// cluster's stream.
type SharedCues interface {
	// OpenCues opens the log, keeping a cue for keep: it delivers every
	// record the log holds, oldest first, before it returns, then each one
	// appended by any node, until Close. deliver is called from one
	// goroutine at a time and must not call Append.
	OpenCues(keep time.Duration, deliver func(stage string, rec []byte)) (CueLog, error)
}

// CueLog is the log SharedCues opened.
type CueLog interface {
	// Append stores rec, a cue of stage; id names it, so a retry is stored
	// once. It returns once the log holds it and, unless its consumer is
	// being recreated, this node has delivered it.
	Append(ctx context.Context, stage, id string, rec []byte) error
	// CatchUp waits until this node has delivered every record the log
	// holds now, those appended on other nodes included.
	CatchUp(ctx context.Context) error
	Close() error
}

// cueRecord is one cue on the shared log. ID matches a node's Add with the
// delivery of its cue.
type cueRecord struct {
	ID string `json:"id"`
	LiveCue
}

// sharedAddTimeout bounds one Add on the shared log: long enough for the
// cluster to elect a new stream leader after a server is lost.
const sharedAddTimeout = 10 * time.Second

// openShared opens the shared log; called by Initialize.
func (l *Live) openShared() error {
	if l.Dir != "" {
		l.Log.Info("live captions are shared through the cluster's log; the local journal directory is not read", "dir", l.Dir)
	}
	cl, err := l.Shared.OpenCues(l.Keep, l.apply)
	if err != nil {
		return fmt.Errorf("captions: open the shared live captions: %w", err)
	}
	l.mu.Lock()
	l.shared = cl
	l.mu.Unlock()
	return nil
}

// addShared appends a checked cue, posted now, to the shared log and
// returns it as this node applied it (its time moved on by a millisecond
// if another node's cue came first at the same time). The lock is not held
// while the log stores it.
func (l *Live) addShared(stage, lang, text string) (LiveCue, error) {
	var id [12]byte
	_, _ = rand.Read(id[:])
	rec := cueRecord{ID: hex.EncodeToString(id[:]), LiveCue: LiveCue{Lang: lang, At: l.Now().UTC().Round(time.Millisecond), Text: text}}
	data, err := json.Marshal(rec)
	if err != nil {
		return LiveCue{}, err
	}
	applied := make(chan LiveCue, 1)
	l.mu.Lock()
	log := l.shared
	st := l.stages[stage]
	full := st != nil && st.langs[lang] == nil && len(st.langs) >= maxLiveLangs
	if log != nil && !full {
		l.waiting[rec.ID] = applied
	}
	l.mu.Unlock()
	switch {
	case full:
		return LiveCue{}, fmt.Errorf("stage %s has live captions in %d languages already: %w", stage, maxLiveLangs, ErrLive)
	case log == nil:
		return LiveCue{}, fmt.Errorf("live captions are closed (salon is stopping)")
	}
	defer func() {
		l.mu.Lock()
		delete(l.waiting, rec.ID)
		l.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), sharedAddTimeout)
	defer cancel()
	if err := log.Append(ctx, stage, rec.ID, data); err != nil {
		return LiveCue{}, fmt.Errorf("store the live caption on the cluster: %w; check the NATS servers", err)
	}
	select {
	case got := <-applied:
		return got, nil
	default:
		return rec.LiveCue, nil // stored; applied here when this node's consumer is back
	}
}

// apply adds a cue the shared log delivered. The log is read from the
// other nodes: a record that does not read, or breaks Live's limits, is
// skipped, the same way on every node.
func (l *Live) apply(stage string, data []byte) {
	var rec cueRecord
	if err := json.Unmarshal(data, &rec); err != nil || !validStage(stage) || rec.Lang == "" || len(rec.Lang) > 64 ||
		rec.At.IsZero() || rec.Text == "" || len(rec.Text) > MaxLiveText || !utf8.ValidString(rec.Text) {
		l.Log.Warn("a shared live caption record does not read; skipped", "stage", stage, "bytes", len(data))
		return
	}
	c := rec.LiveCue
	c.At = c.At.UTC()
	c.Text = strings.ReplaceAll(c.Text, "-->", "->") // it would end a WebVTT cue
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stage(stage)
	cs := st.langs[c.Lang]
	if cs == nil && len(st.langs) >= maxLiveLangs {
		l.Log.Warn("a shared live caption in one language too many; skipped", "stage", stage, "lang", c.Lang)
		return
	}
	// Nodes' clocks differ a little: the log's order is the cues' order.
	if n := len(cs); n > 0 && !c.At.After(cs[n-1].At) {
		c.At = cs[n-1].At.Add(time.Millisecond)
	}
	if cs == nil {
		st.addLang(c.Lang)
	}
	st.langs[c.Lang] = appendCue(cs, c)
	if ch := l.waiting[rec.ID]; ch != nil {
		ch <- c
		delete(l.waiting, rec.ID)
	}
}

// CatchUp waits until Live holds every cue posted so far on any node (the
// end-of-talk job reads them next); at once on one node.
func (l *Live) CatchUp(ctx context.Context) error {
	l.mu.Lock()
	log := l.shared
	l.mu.Unlock()
	if log == nil {
		return nil
	}
	if err := log.CatchUp(ctx); err != nil {
		return fmt.Errorf("captions: catch up with the cues posted on other nodes: %w", err)
	}
	return nil
}
