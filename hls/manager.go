// Package hls cuts each stage's stream into fMP4 (CMAF) segments at keyframes
// and serves a live HLS media playlist over them, all from memory.
//
// Media is remuxed, never transcoded: the access units that ingest hands over
// become the samples of the segments unchanged (H.264/H.265 converted from
// NALU lists to length-prefixed AVCC). The same segment bytes go to the live
// playlist and to an optional SegmentSink (the archive).
package hls

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

// Content types of the files served by Manager.File.
const (
	ContentTypePlaylist = "application/vnd.apple.mpegurl"
	ContentTypeInit     = "video/mp4"
	ContentTypeSegment  = "video/iso.segment"
)

// PlaylistName is the name of a stage's live media playlist.
const PlaylistName = "index.m3u8"

// Segment is one finished media segment of one publish path (a stage's
// source or one of its renditions), as handed to a SegmentSink.
// Its byte slices are shared with the live playlist: never modify them.
type Segment struct {
	Stage string
	// Rendition is "" for the stage's source, else the rendition's name.
	Rendition string
	// Run is the publish the segment belongs to: the publish start in UTC,
	// formatted 20060102T150405Z, with a suffix ("-2"…) when two publishes of
	// one stage start within the same second.
	Run string
	// Seq is the media sequence number: it increases by one per segment of the
	// stage and is never reused, across publishes too.
	Seq uint64
	// Name is the segment's file name ("{seq}.m4s"); InitName names the init
	// segment it needs ("init-{n}.mp4") and Init holds that init segment.
	Name     string
	InitName string
	Init     []byte
	Data     []byte
	// Start is the wall-clock time of the segment's first sample
	// (EXT-X-PROGRAM-DATE-TIME).
	Start    time.Time
	Duration time.Duration
	// Discontinuity is true for the first segment after a new init segment
	// (new codec parameters, in a publish or from a new one), except for the
	// stage's very first segment. A new publish with the same codec
	// parameters keeps the previous init segment (InitName) and has none.
	Discontinuity bool
}

// SegmentSink receives every finished segment and the end of every run.
// Both are called synchronously from the segmenting goroutine (or from
// Manager.Close): they must not block. RunEnded follows the run's last
// SegmentReady; it is called when the publish ends, when a new publish
// replaces it, and by Manager.Close for runs still open.
type SegmentSink interface {
	SegmentReady(seg *Segment)
	// RunEnded ends a run of one publish path (rendition "" is the source).
	RunEnded(stage, rendition, run string)
}

// warningSetter is the part of *stream.Registry that shows the warnings of
// a stage's publish paths (rendition "" is the source).
type warningSetter interface {
	SetRenditionWarning(stage, rendition, key, msg string)
}

// Manager runs one segmenter per publish path: a stage's source and each of
// its renditions (live/{stage}/{rendition}). A stage's paths form a group,
// which aligns the renditions' segments with the source's and serves the
// multivariant playlist over them.
//
// Concurrency: HandleEvent is called from one goroutine, which owns every
// segmenter's building state. What File serves lives in each stage's served
// struct, guarded by its own mutex; mu guards only the stages and groups maps.
type Manager struct {
	// SegmentDuration is the target segment length (default 2 s). Segments are
	// cut at the first keyframe at or after it.
	SegmentDuration time.Duration
	// Window is the duration of the live playlist (default 30 s, at least
	// three target durations).
	Window time.Duration
	// Sink, when set, receives every finished segment.
	Sink SegmentSink
	// Warnings, when set, shows per-stage warnings ("gop"); *stream.Registry
	// satisfies it.
	Warnings warningSetter
	// Metrics, when set, receives the segmenter's metrics.
	Metrics prometheus.Registerer
	Log     *slog.Logger

	mu     sync.Mutex
	stages map[string]*stage // by pathKey
	groups map[string]*group // by stage name
	done   chan struct{}
	closed bool

	mSegments *prometheus.CounterVec
	mBytes    *prometheus.CounterVec
	mLatency  prometheus.Histogram
}

// Initialize fills defaults, validates and registers the metrics.
func (m *Manager) Initialize() error {
	if m.SegmentDuration == 0 {
		m.SegmentDuration = 2 * time.Second
	}
	if m.Window == 0 {
		m.Window = 30 * time.Second
	}
	if m.SegmentDuration < 100*time.Millisecond {
		return fmt.Errorf("hls segment duration %s is too short: use at least 100ms (2s is usual)", m.SegmentDuration)
	}
	if m.Window < m.SegmentDuration {
		return fmt.Errorf("hls window %s is shorter than the segment duration %s: use a window of at least three segments", m.Window, m.SegmentDuration)
	}
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	m.stages = make(map[string]*stage)
	m.groups = make(map[string]*group)
	m.done = make(chan struct{})

	if m.Metrics != nil {
		m.mSegments = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salon_segments_total",
			Help: "Media segments finished, per stage.",
		}, []string{"stage"})
		m.mBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salon_segment_bytes_total",
			Help: "Bytes of media segments finished, per stage.",
		}, []string{"stage"})
		m.mLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "salon_segment_publish_latency_seconds",
			Help: "Time from the arrival of the unit that closed a segment to the new playlist being served.",
			// 1 ms … 1 s.
			Buckets: prometheus.ExponentialBucketsRange(0.001, 1, 11),
		})
		for _, c := range []prometheus.Collector{m.mSegments, m.mBytes, m.mLatency} {
			if err := m.Metrics.Register(c); err != nil {
				return fmt.Errorf("register hls metrics: %w (is a second Manager using the same registry?)", err)
			}
		}
	}
	return nil
}

// Close ends the runs still open (their last segment goes to the Sink, then
// RunEnded), wakes every waiting File call and drops what is held in memory.
// Later HandleEvent and File calls find nothing. Unsubscribe from the
// registry first: Close touches the segmenting state, so no HandleEvent may
// run concurrently, and no event is lost silently.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.done)
	stages := m.stages
	m.stages = map[string]*stage{}
	m.groups = map[string]*group{}
	m.mu.Unlock()
	now := time.Now()
	// Renditions first: the source's end would pause them, cutting their
	// last segment twice.
	for _, st := range stages {
		if st.rendition != "" {
			st.end(now)
		}
	}
	for _, st := range stages {
		if st.rendition == "" {
			st.end(now)
		}
	}
}

// HandleEvent feeds one stream event to the stage's segmenter. It must be
// called from one goroutine at a time (the registry's reader goroutine).
func (m *Manager) HandleEvent(ev stream.Event) {
	st := m.stage(ev.Stage, ev.Rendition, ev.Start != nil)
	if st == nil {
		return
	}
	switch {
	case ev.Start != nil:
		st.start(ev.Start)
	case ev.Unit != nil:
		if ev.Dropped > 0 {
			st.dropped(ev.Dropped)
		}
		st.unit(ev.Unit)
	case ev.End:
		st.end(time.Now())
	}
}

// pathKey names a publish path in Manager.stages: the stage's name for its
// source, "{stage}/{rendition}" for a rendition.
func pathKey(stageName, rendition string) string {
	if rendition == "" {
		return stageName
	}
	return stageName + "/" + rendition
}

// stage returns the segmenter of a publish path, creating it (and the
// stage's group) when create is set.
func (m *Manager) stage(name, rendition string, create bool) *stage {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	key := pathKey(name, rendition)
	st := m.stages[key]
	if st == nil && create {
		g := m.groups[name]
		if g == nil {
			g = newGroup(m, name)
			m.groups[name] = g
		}
		st = newStage(m, g, rendition)
		if rendition == "" {
			g.source = st
		} else {
			g.renditions[rendition] = st
		}
		m.stages[key] = st
	}
	return st
}

// File returns one file of a stage's live HLS: PlaylistName, an init segment
// or a media segment of its source. ok is false for an unknown stage or file
// (404). While the stage has renditions beside its source, PlaylistName is
// the multivariant playlist over "{rendition}/index.m3u8" (RenditionFile).
//
// For the playlist of a stage that is live but has no segment yet, File waits
// until the first segment is ready, the publish ends or ctx ends, so that a
// player's first request gets a playable playlist.
func (m *Manager) File(ctx context.Context, stageName, name string) (data []byte, contentType string, ok bool) {
	if name == PlaylistName {
		m.mu.Lock()
		g := m.groups[stageName]
		m.mu.Unlock()
		if g != nil {
			if mv := g.multivariant(); mv != nil {
				return mv, ContentTypePlaylist, true
			}
		}
	}
	return m.pathFile(ctx, pathKey(stageName, ""), name)
}

// RenditionFile returns one file of a stage's rendition: its media playlist,
// an init segment or a media segment. Rendition "source" (stream.SourceRendition)
// is the stage's source, whose media playlist this always is.
func (m *Manager) RenditionFile(ctx context.Context, stageName, rendition, name string) (data []byte, contentType string, ok bool) {
	if rendition == stream.SourceRendition {
		rendition = ""
	}
	return m.pathFile(ctx, pathKey(stageName, rendition), name)
}

func (m *Manager) pathFile(ctx context.Context, key, name string) (data []byte, contentType string, ok bool) {
	m.mu.Lock()
	st := m.stages[key]
	done := m.done
	m.mu.Unlock()
	if st == nil {
		return nil, "", false
	}
	if name == PlaylistName {
		for {
			idx, live, changed := st.served.playlist()
			if idx != nil {
				return idx, ContentTypePlaylist, true
			}
			if !live {
				return nil, "", false
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return nil, "", false
			case <-done:
				return nil, "", false
			}
		}
	}
	data = st.served.file(name)
	if data == nil {
		return nil, "", false
	}
	if strings.HasSuffix(name, ".m4s") {
		return data, ContentTypeSegment, true
	}
	return data, ContentTypeInit, true
}

// Stats describes what a stage's segmenter serves.
type Stats struct {
	Live bool
	// Run is the id of the current (or last) publish.
	Run string
	// Segments and Bytes count the segments finished since the stage appeared.
	Segments uint64
	Bytes    uint64
	// Window is the number of segments in the live playlist.
	Window         int
	TargetDuration time.Duration
	// LastSegment is the wall-clock start of the newest segment.
	LastSegment time.Time
}

// Stats returns the counters of a stage's source; ok is false for an unknown
// stage.
func (m *Manager) Stats(stageName string) (s Stats, ok bool) {
	m.mu.Lock()
	st := m.stages[pathKey(stageName, "")]
	m.mu.Unlock()
	if st == nil {
		return Stats{}, false
	}
	return st.served.stats(), true
}

func (m *Manager) setPathWarning(st *stage, key, msg string) {
	if m.Warnings != nil {
		m.Warnings.SetRenditionWarning(st.name, st.rendition, key, msg)
	}
}
