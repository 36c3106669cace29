package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// ErrStageBusy is returned by Publish when the stage already has a publisher.
var ErrStageBusy = errors.New("stage already has a publisher")

// Event is what a reader receives. Exactly one of Start, Unit and End is set.
type Event struct {
	Stage string
	// Start announces a new publish on the stage; units that follow belong to it.
	Start *Stream
	Unit  *Unit
	// End says the publish ended (publisher left, timed out or was refused later).
	End bool
	// Dropped counts this reader's units dropped just before this event because
	// its queue was full. A video reader should wait for the next keyframe.
	Dropped int
}

// Registry tracks the stages, their publishers and their readers.
// One mutex guards all of it; the critical sections are map and slice updates.
type Registry struct {
	// QueueSize bounds each reader's queue of units (default 1024, ~10 s of 1080p30 + audio).
	QueueSize int
	Log       *slog.Logger

	mu      sync.Mutex
	stages  map[string]*stage
	readers []*reader
	closed  bool
	// changed is closed and replaced when a publish starts or ends or a
	// warning changes (Changed).
	changed chan struct{}
}

type stage struct {
	name     string
	pub      *Publisher // nil when offline
	lastSeen time.Time  // end of the last publish
	stats    *stats
	silence  *silence
	warnings map[string]string
	dropped  int64 // units of this publish some reader dropped
}

// Initialize fills defaults.
func (r *Registry) Initialize() error {
	if r.QueueSize <= 0 {
		r.QueueSize = 1024
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	r.stages = make(map[string]*stage)
	r.changed = make(chan struct{})
	return nil
}

// Close stops every reader goroutine after it has drained its queue.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	rs := r.readers
	r.readers = nil
	r.mu.Unlock()
	for _, rd := range rs {
		rd.close()
	}
}

// Subscribe adds a reader of every stage. fn runs on the reader's own goroutine,
// one event at a time, in order. Publishes already live are announced first.
// The returned function unsubscribes and waits for fn to return.
func (r *Registry) Subscribe(name string, fn func(Event)) func() {
	return r.subscribe(name, "", fn)
}

// SubscribeStage is Subscribe for the events of one stage only: its queue
// holds that stage's units alone, so a reader that falls behind on one stage
// drops only that stage's units (and counts them against that stage).
func (r *Registry) SubscribeStage(name, stage string, fn func(Event)) func() {
	return r.subscribe(name, stage, fn)
}

func (r *Registry) subscribe(name, stage string, fn func(Event)) func() {
	rd := newReader(name, stage, r.QueueSize, fn, r.Log)
	r.mu.Lock()
	for _, st := range r.stages {
		if st.pub != nil && !st.pub.closed && rd.wants(st.name) {
			rd.push(Event{Stage: st.name, Start: st.pub.stream}, true)
		}
	}
	r.readers = append(r.readers, rd)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		for i, x := range r.readers {
			if x == rd {
				r.readers = append(r.readers[:i:i], r.readers[i+1:]...)
				break
			}
		}
		r.mu.Unlock()
		rd.close()
	}
}

// Publish claims the stage for s. It fails with ErrStageBusy when another
// publisher holds the stage: the first publisher is never displaced.
func (r *Registry) Publish(s *Stream) (*Publisher, error) {
	if !ValidStage(s.Stage) {
		return nil, fmt.Errorf("invalid stage name %q: use 1-64 of a-z, 0-9 and -", s.Stage)
	}
	if len(s.Tracks) == 0 {
		return nil, errors.New("the publish has no track salon can use")
	}
	if s.Start.IsZero() {
		s.Start = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("server is shutting down")
	}
	st := r.stages[s.Stage]
	if st == nil {
		st = &stage{name: s.Stage, warnings: map[string]string{}}
		r.stages[s.Stage] = st
	}
	if st.pub != nil {
		return nil, fmt.Errorf("stage %q: %w (from %s since %s)", s.Stage, ErrStageBusy,
			st.pub.stream.Remote, st.pub.stream.Start.UTC().Format(time.RFC3339))
	}
	p := &Publisher{reg: r, st: st, stream: s}
	st.pub = p
	st.stats = newStats(s)
	st.silence = newSilence(s)
	st.warnings = map[string]string{}
	st.dropped = 0
	r.changedLocked()
	for _, rd := range r.readers {
		if rd.wants(s.Stage) {
			rd.push(Event{Stage: s.Stage, Start: s}, true)
		}
	}
	r.Log.Info("publish started", "stage", s.Stage, "source", s.Source, "remote", s.Remote, "tracks", trackNames(s.Tracks))
	return p, nil
}

// SetWarning sets (msg != "") or clears a named warning shown for the stage in
// the API, e.g. "gop" when the keyframe interval exceeds the segment target.
func (r *Registry) SetWarning(stageName, key, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stages[stageName]
	if st == nil {
		return
	}
	if st.warnings[key] == msg {
		return
	}
	if msg == "" {
		delete(st.warnings, key)
	} else {
		st.warnings[key] = msg
	}
	r.changedLocked()
}

// Changed returns a channel that is closed at the next change of a stage's
// publisher or warnings; call it again for the change after that.
func (r *Registry) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *Registry) changedLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Live tells whether the stage has a publisher now.
func (r *Registry) Live(stageName string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stages[stageName]
	return st != nil && st.pub != nil
}

// Known tells whether the stage has ever been published since start.
func (r *Registry) Known(stageName string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stages[stageName] != nil
}

// Stages returns a snapshot of every stage seen since start, sorted by name.
func (r *Registry) Stages() []StageInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]StageInfo, 0, len(r.stages))
	now := time.Now()
	for _, st := range r.stages {
		info := StageInfo{Name: st.name, Live: st.pub != nil}
		if st.pub != nil {
			s := st.pub.stream
			since := s.Start.UTC()
			info.Since = &since
			info.Source = s.Source
			info.Remote = s.Remote
		} else if !st.lastSeen.IsZero() {
			ls := st.lastSeen.UTC()
			info.LastSeen = &ls
		}
		if st.stats != nil {
			info.Tracks = st.stats.snapshot(now, st.pub != nil)
		}
		info.DroppedUnits = st.dropped
		for _, w := range st.warnings {
			info.Warnings = append(info.Warnings, w)
		}
		sort.Strings(info.Warnings)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func trackNames(ts []*Track) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.CodecName()
	}
	return out
}

// Publisher is the write end of a stage, held by one ingest connection.
type Publisher struct {
	reg    *Registry
	st     *stage
	stream *Stream
	closed bool // guarded by reg.mu
}

// Stream returns the publish this publisher writes.
func (p *Publisher) Stream() *Stream { return p.stream }

// WriteUnit hands a unit to every reader without blocking.
// Units of one publisher must be written from one goroutine at a time, or
// serialised by the caller, so that readers see them in order.
func (p *Publisher) WriteUnit(u *Unit) {
	if u.Received.IsZero() {
		u.Received = time.Now()
	}
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	if p.closed {
		return
	}
	p.st.stats.add(u, p.stream.Tracks[u.Track])
	p.st.silence.unit(u.Track, u.Received, p.st, p.stream.Tracks, p.reg.Log)
	for _, rd := range p.reg.readers {
		if !rd.wants(p.stream.Stage) {
			continue
		}
		if !rd.push(Event{Stage: p.stream.Stage, Unit: u}, false) {
			p.st.dropped++
		}
	}
}

// Close ends the publish and frees the stage. It is safe to call twice.
func (p *Publisher) Close() {
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.st.pub == p {
		p.st.pub = nil
		p.st.lastSeen = time.Now()
		for i := range p.stream.Tracks {
			delete(p.st.warnings, silentKey(i)) // about this publish only
		}
		p.reg.changedLocked()
	}
	for _, rd := range p.reg.readers {
		if rd.wants(p.stream.Stage) {
			rd.push(Event{Stage: p.stream.Stage, End: true}, true)
		}
	}
	p.reg.Log.Info("publish ended", "stage", p.stream.Stage, "source", p.stream.Source, "remote", p.stream.Remote,
		"duration", time.Since(p.stream.Start).Round(time.Second).String())
}
