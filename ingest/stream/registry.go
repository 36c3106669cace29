package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
)

// ErrStageBusy is returned by Publish when the publish path (the stage's
// source or one of its renditions) already has a publisher.
var ErrStageBusy = errors.New("stage already has a publisher")

// Event is what a reader receives. Exactly one of Start, Unit and End is set.
type Event struct {
	Stage string
	// Rendition is the publish path within the stage: "" for the source,
	// else the rendition's name (Stream.Rendition).
	Rendition string
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
	// Owners, when salon runs on several nodes, says which node ingests a
	// stage: a publish here claims the stage first, so a second publisher
	// on another node is refused as one on this node is. Nil: this node
	// alone.
	Owners stageOwners

	mu      sync.Mutex
	stages  map[string]*stage
	readers []*reader
	// inline holds those of readers that have no goroutine
	// (SubscribeInline); replaced, never changed in place, so that the
	// slice read under mu can be drained after mu is released.
	inline []*reader
	closed bool
	// changed is closed and replaced when a publish starts or ends or a
	// warning changes (Changed).
	changed chan struct{}
}

type stage struct {
	name string
	// paths holds the stage's source ("") and renditions, once published.
	paths map[string]*path
}

// path is one publish path of a stage: its source or one rendition. Only one
// publisher holds a path at a time.
type path struct {
	stage     string
	rendition string
	pub       *Publisher // nil when offline
	lastSeen  time.Time  // end of the last publish
	stats     *stats
	silence   *silence
	warnings  map[string]Warning
	dropped   int64 // units of this publish some reader dropped
}

// MaxLiveRenditions bounds the renditions live at once on one stage, and
// MaxRenditionNames the rendition names a stage may have had since start:
// each costs a segmenter and its window in memory.
const (
	MaxLiveRenditions = 8
	MaxRenditionNames = 32
)

// renditionLimits refuses a rendition beyond the limits; pa is its path
// when the name is known. Called with Registry.mu held.
func (st *stage) renditionLimits(rendition string, pa *path) error {
	if rendition == "" {
		return nil
	}
	live, names := 0, 0
	for name, p := range st.paths {
		if name == "" {
			continue
		}
		names++
		if p.pub != nil {
			live++
		}
	}
	switch {
	case (pa == nil || pa.pub == nil) && live >= MaxLiveRenditions:
		return fmt.Errorf("stage %q already has %d renditions live, the most salon takes: stop one first", st.name, live)
	case pa == nil && names >= MaxRenditionNames:
		return fmt.Errorf("stage %q has had %d rendition names since salon started, the most it keeps: reuse a name (or restart salon)", st.name, names)
	}
	return nil
}

// label names the path for people: "stage main" or "rendition 360p of stage main".
func (p *path) label() string {
	if p.rendition == "" {
		return "stage " + p.stage
	}
	return "rendition " + p.rendition + " of stage " + p.stage
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
	r.readers, r.inline = nil, nil
	r.mu.Unlock()
	for _, rd := range rs {
		rd.close()
	}
}

// Subscribe adds a reader of every stage. fn runs on the reader's own goroutine,
// one event at a time, in order. Publishes already live are announced first.
// The returned function unsubscribes and waits for fn to return.
func (r *Registry) Subscribe(name string, fn func(Event)) func() {
	return r.subscribe(newReader(name, r.QueueSize, fn, r.Log))
}

// SubscribeInline is Subscribe for a reader whose fn never blocks (no I/O,
// no waiting on other goroutines, short critical sections only): fn runs on
// the goroutine that writes the event — the publisher's, for its units —
// right after the write, one event at a time and in order as with
// Subscribe, and no goroutine is woken per unit. Units are still queued
// first (and dropped when the queue is full, should fn be slow), and the
// audio of a publish with video waits for the next video frame. fn must not
// unsubscribe itself.
func (r *Registry) SubscribeInline(name string, fn func(Event)) func() {
	return r.subscribe(newInlineReader(name, r.QueueSize, fn, r.Log))
}

// drainInline drains the inline readers that have events due, on the
// calling goroutine; call it without mu, after queueing events.
func drainInline(rs []*reader) {
	for _, rd := range rs {
		rd.drain()
	}
}

// SubscribePath is Subscribe for the events of one publish path only: a
// stage's source (rendition "") or one of its renditions. Its queue holds that
// path's units alone, so a reader that falls behind drops only that path's
// units (and counts them against it).
func (r *Registry) SubscribePath(name, stage, rendition string, fn func(Event)) func() {
	rd := newReader(name, r.QueueSize, fn, r.Log)
	rd.filtered, rd.stage, rd.rendition = true, stage, rendition
	return r.subscribe(rd)
}

func (r *Registry) subscribe(rd *reader) func() {
	r.mu.Lock()
	for _, st := range r.stages {
		for _, pa := range st.paths {
			if pa.pub != nil && !pa.pub.closed && rd.wants(st.name, pa.rendition) {
				rd.push(Event{Stage: st.name, Rendition: pa.rendition, Start: pa.pub.stream}, true, false)
			}
		}
	}
	r.readers = append(r.readers, rd)
	if rd.inline {
		r.inline = append(r.inline[:len(r.inline):len(r.inline)], rd)
	}
	inline := r.inline
	r.mu.Unlock()
	drainInline(inline)
	return func() {
		r.mu.Lock()
		r.readers = slices.DeleteFunc(slices.Clone(r.readers), func(x *reader) bool { return x == rd })
		r.inline = slices.DeleteFunc(slices.Clone(r.inline), func(x *reader) bool { return x == rd })
		r.mu.Unlock()
		rd.close()
	}
}

// Publish claims the stage's publish path (its source, or the rendition
// s.Rendition) for s. It fails with ErrStageBusy when another publisher holds
// that path: the first publisher is never displaced.
func (r *Registry) Publish(s *Stream) (*Publisher, error) {
	if !ValidStage(s.Stage) {
		return nil, fmt.Errorf("invalid stage name %q: use 1-64 of a-z, 0-9 and -", s.Stage)
	}
	if s.Rendition != "" && !ValidRendition(s.Rendition) {
		return nil, fmt.Errorf("invalid rendition name %q: use 1-32 of a-z, 0-9 and - (%q is the source)", s.Rendition, SourceRendition)
	}
	if len(s.Tracks) == 0 {
		return nil, errors.New("the publish has no track salon can use")
	}
	if s.Start.IsZero() {
		s.Start = time.Now()
	}
	// The claim is a network round trip: made before the lock, released
	// again if the publish is refused here.
	if r.Owners != nil {
		if err := r.Owners.Claim(s.Stage); err != nil {
			return nil, fmt.Errorf("stage %q: %w", s.Stage, err)
		}
	}
	p, err := r.publish(s)
	if err != nil && r.Owners != nil {
		r.Owners.Release(s.Stage)
	}
	if err == nil {
		r.mu.Lock()
		inline := r.inline
		r.mu.Unlock()
		drainInline(inline)
	}
	return p, err
}

func (r *Registry) publish(s *Stream) (*Publisher, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("server is shutting down")
	}
	st := r.stages[s.Stage]
	if st == nil {
		st = &stage{name: s.Stage, paths: map[string]*path{}}
		r.stages[s.Stage] = st
	}
	pa := st.paths[s.Rendition]
	if err := st.renditionLimits(s.Rendition, pa); err != nil {
		return nil, err
	}
	if pa == nil {
		pa = &path{stage: s.Stage, rendition: s.Rendition, warnings: map[string]Warning{}}
		st.paths[s.Rendition] = pa
	}
	if pa.pub != nil {
		if s.Rendition != "" {
			return nil, fmt.Errorf("rendition %q of stage %q: %w (from %s since %s)", s.Rendition, s.Stage, ErrStageBusy,
				pa.pub.stream.Remote, pa.pub.stream.Start.UTC().Format(time.RFC3339))
		}
		return nil, fmt.Errorf("stage %q: %w (from %s since %s)", s.Stage, ErrStageBusy,
			pa.pub.stream.Remote, pa.pub.stream.Start.UTC().Format(time.RFC3339))
	}
	p := &Publisher{reg: r, pa: pa, stream: s, ended: make(chan struct{}), lazy: lazyTracks(s.Tracks)}
	pa.pub = p
	pa.stats = newStats(s)
	pa.silence = newSilence(s)
	pa.warnings = map[string]Warning{}
	pa.dropped = 0
	r.changedLocked()
	for _, rd := range r.readers {
		if rd.wants(s.Stage, s.Rendition) {
			rd.push(Event{Stage: s.Stage, Rendition: s.Rendition, Start: s}, true, false)
		}
	}
	r.Log.Info("publish started", "stage", s.Stage, "rendition", RenditionName(s.Rendition), "source", s.Source, "remote", s.Remote, "tracks", trackNames(s.Tracks))
	return p, nil
}

// SetWarning sets a named warning of the stage's source, shown in the API
// and the pages (key "gop": the keyframe interval exceeds the segment
// target), or clears it when w is the zero Warning.
func (r *Registry) SetWarning(stageName, key string, w Warning) {
	r.SetRenditionWarning(stageName, "", key, w)
}

// SetRenditionWarning sets or clears (w zero) a named warning of one publish
// path of a stage (rendition "" is the source). A rendition's warnings are
// shown in the stage's list, with Rendition set, and in its entry of
// StageInfo.Renditions.
func (r *Registry) SetRenditionWarning(stageName, rendition, key string, w Warning) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stages[stageName]
	if st == nil {
		return
	}
	pa := st.paths[rendition]
	if pa == nil {
		return
	}
	old, had := pa.warnings[key]
	if w.IsZero() {
		if !had {
			return
		}
		delete(pa.warnings, key)
	} else {
		if had && old.Equal(w) {
			return
		}
		pa.warnings[key] = w
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

// Live tells whether the stage's source has a publisher now: what viewers
// can watch (renditions are served beside a live source only).
func (r *Registry) Live(stageName string) bool {
	return r.PathLive(stageName, "")
}

// PathLive tells whether one publish path of the stage (rendition "" is the
// source) has a publisher now: a second publisher there is refused.
func (r *Registry) PathLive(stageName, rendition string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stages[stageName]
	if st == nil {
		return false
	}
	pa := st.paths[rendition]
	return pa != nil && pa.pub != nil
}

// EndStage ends every publish of the stage on this node (its source and
// renditions) because of why: this node lost the stage to another one (its
// ingest lease). Each publisher's connection is closed by its ingest server
// (Publisher.Ended), so that the encoder reconnects, through the load
// balancer, to the node that holds the stage now.
func (r *Registry) EndStage(stageName string, why error) {
	r.mu.Lock()
	var pubs []*Publisher
	if st := r.stages[stageName]; st != nil {
		for _, pa := range st.paths {
			if pa.pub != nil {
				pa.pub.endErr = why
				pubs = append(pubs, pa.pub)
			}
		}
	}
	r.mu.Unlock()
	for _, p := range pubs {
		r.Log.Warn("publish ended by this node: it lost the stage", "stage", stageName, "rendition", RenditionName(p.stream.Rendition),
			"remote", p.stream.Remote, "reason", why.Error(), "hint", "the encoder reconnects to the node that holds the stage")
		p.Close()
	}
}

// Known tells whether the stage has ever been published since start.
func (r *Registry) Known(stageName string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stages[stageName] != nil
}

// Stages returns a snapshot of every stage seen since start, sorted by name.
// The top-level fields (Live among them) describe the stage's source;
// Renditions lists every publish path (the source first) once the stage has
// had a rendition.
func (r *Registry) Stages() []StageInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]StageInfo, 0, len(r.stages))
	now := time.Now()
	for _, st := range r.stages {
		info := StageInfo{Name: st.name}
		if src := st.paths[""]; src != nil {
			if src.pub != nil {
				s := src.pub.stream
				since := s.Start.UTC()
				info.Since = &since
				info.Source = s.Source
				info.Remote = s.Remote
			} else if !src.lastSeen.IsZero() {
				ls := src.lastSeen.UTC()
				info.LastSeen = &ls
			}
			if src.stats != nil {
				info.Tracks = src.stats.snapshot(now, src.pub != nil)
			}
			info.DroppedUnits = src.dropped
		}
		names := make([]string, 0, len(st.paths))
		for name := range st.paths {
			names = append(names, name)
		}
		sort.Strings(names) // "" (the source) first
		for _, name := range names {
			pa := st.paths[name]
			info.Live = info.Live || (name == "" && pa.pub != nil)
			for _, w := range pa.warnings {
				w.Rendition = name
				info.Warnings = append(info.Warnings, w)
			}
		}
		if len(names) > 1 || (len(names) == 1 && names[0] != "") {
			for _, name := range names {
				info.Renditions = append(info.Renditions, st.paths[name].info(now))
			}
		}
		sortWarnings(info.Warnings)
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
	pa     *path
	stream *Stream
	ended  chan struct{} // closed when the publish ends
	// lazy marks the tracks whose units do not wake readers by themselves
	// (reader.push): the audio of a publish with video.
	lazy []bool
	// guarded by reg.mu
	closed bool
	endErr error // why EndStage ended it
}

// Ended is closed when the publish has ended, whoever ended it.
func (p *Publisher) Ended() <-chan struct{} { return p.ended }

// EndReason says why the registry ended the publish (EndStage); nil when
// it is running or its connection ended it.
func (p *Publisher) EndReason() error {
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	return p.endErr
}

// lazyTracks marks the tracks other than video when there is video.
func lazyTracks(tracks []*Track) []bool {
	lazy := make([]bool, len(tracks))
	if slices.ContainsFunc(tracks, (*Track).IsVideo) {
		for i, t := range tracks {
			lazy[i] = !t.IsVideo()
		}
	}
	return lazy
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
	if p.closed {
		p.reg.mu.Unlock()
		return
	}
	defer drainInline(p.reg.inline) // read under mu, run after it
	defer p.reg.mu.Unlock()
	p.pa.stats.add(u, p.stream.Tracks[u.Track])
	p.pa.silence.unit(u.Track, u.Received, p.pa, p.stream.Tracks, p.reg.Log)
	for _, rd := range p.reg.readers {
		if !rd.wants(p.stream.Stage, p.stream.Rendition) {
			continue
		}
		if !rd.push(Event{Stage: p.stream.Stage, Rendition: p.stream.Rendition, Unit: u}, false, p.lazy[u.Track]) {
			p.pa.dropped++
		}
	}
}

// Close ends the publish and frees the stage. It is safe to call twice.
func (p *Publisher) Close() {
	closed := p.close()
	p.reg.mu.Lock()
	inline := p.reg.inline
	p.reg.mu.Unlock()
	drainInline(inline)
	if closed && p.reg.Owners != nil {
		p.reg.Owners.Release(p.stream.Stage)
	}
}

// close ends the publish; false if it had ended already.
func (p *Publisher) close() bool {
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	if p.closed {
		return false
	}
	p.closed = true
	close(p.ended)
	if p.pa.pub == p {
		p.pa.pub = nil
		p.pa.lastSeen = time.Now()
		for i := range p.stream.Tracks {
			delete(p.pa.warnings, silentKey(i)) // about this publish only
		}
		p.reg.changedLocked()
	}
	for _, rd := range p.reg.readers {
		if rd.wants(p.stream.Stage, p.stream.Rendition) {
			rd.push(Event{Stage: p.stream.Stage, Rendition: p.stream.Rendition, End: true}, true, false)
		}
	}
	p.reg.Log.Info("publish ended", "stage", p.stream.Stage, "rendition", RenditionName(p.stream.Rendition), "source", p.stream.Source, "remote", p.stream.Remote,
		"duration", time.Since(p.stream.Start).Round(time.Second).String())
	return true
}
