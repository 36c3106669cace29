// Package hls cuts each stage's stream into fMP4 (CMAF) segments at keyframes
// and serves a live HLS media playlist over them, all from memory. With
// PartDuration set, each segment is made of parts (Low-Latency HLS): the
// playlist lists them with a preload hint, and Playlist answers blocking
// reloads and delta updates (RFC 8216bis).
//
// Media is remuxed, never transcoded: the access units that ingest hands over
// become the samples of the segments unchanged (H.264/H.265 converted from
// NALU lists to length-prefixed AVCC as they are copied into the segment).
// The same segment bytes go to the live playlist and to an optional
// SegmentSink (the archive); parts are slices of them.
package hls

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/hls/playlist"
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
// Both are called synchronously by the caller of HandleEvent (in salon, a
// publisher's goroutine) or by Manager.Close: they must not block. RunEnded follows the run's last
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
	SetRenditionWarning(stage, rendition, key string, w stream.Warning)
}

// Manager runs one segmenter per publish path: a stage's source and each of
// its renditions (live/{stage}/{rendition}). A stage's paths form a group,
// which aligns the renditions' segments with the source's and serves the
// multivariant playlist over them.
//
// Concurrency: HandleEvent is called one event at a time (by one goroutine
// at a time: salon subscribes it inline, so the publishers' goroutines take
// turns), and that caller owns every segmenter's building state; it never
// blocks (no I/O, finished segments go to the Sink's queue). What File serves lives in each stage's served
// struct, guarded by its own mutex; mu guards only the stages and groups maps.
type Manager struct {
	// SegmentDuration is the target segment length (default 2 s). Segments are
	// cut at the first keyframe at or after it.
	SegmentDuration time.Duration
	// Window is the duration of the live playlist (default 30 s, at least
	// three target durations).
	Window time.Duration
	// PartDuration, when not 0, makes the playlist Low-Latency HLS: parts of
	// about this duration (cut on the main track's samples), preload hints,
	// blocking reloads and delta updates. 0 keeps classic HLS.
	PartDuration time.Duration
	// Sink, when set, receives every finished segment.
	Sink SegmentSink
	// Warnings, when set, shows per-stage warnings ("gop"); *stream.Registry
	// satisfies it.
	Warnings warningSetter
	// Captions, when set, are the cues posted live (*captions.Live): a
	// stage with some is served with a subtitle rendition (captions.go).
	Captions captionSource
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
	if m.PartDuration < 0 || (m.PartDuration > 0 && (m.PartDuration < 50*time.Millisecond || m.PartDuration > m.SegmentDuration/2)) {
		return fmt.Errorf("hls part duration %s: use 0 (no parts) or between 50ms and half the segment duration %s (200ms is usual)",
			m.PartDuration, m.SegmentDuration)
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

// File returns one file of a stage's live HLS: PlaylistName, an init
// segment, a media segment or a part ("{seq}.{n}.m4s") of its source. ok is
// false for an unknown stage or file (404). PlaylistName is the playlist as
// Playlist answers it without directives: while the stage has renditions
// beside its source, the multivariant playlist over "{rendition}/index.m3u8"
// (RenditionFile).
//
// For the playlist of a stage that is live but has no segment yet, File waits
// until the first segment is ready, the publish ends or ctx ends, so that a
// player's first request gets a playable playlist. A request for the part
// the playlist hints at (EXT-X-PRELOAD-HINT), or one a little after it, waits
// until it exists (at most three target durations).
func (m *Manager) File(ctx context.Context, stageName, name string) (data []byte, contentType string, ok bool) {
	if name == PlaylistName {
		data, status := m.Playlist(ctx, stageName, -1, -1, false)
		return data, ContentTypePlaylist, status == http.StatusOK
	}
	return m.pathFile(ctx, pathKey(stageName, ""), name)
}

// RenditionFile is File for one of a stage's renditions: its media playlist,
// an init segment, a media segment or a part. Rendition "source"
// (stream.SourceRendition) is the stage's source, whose media playlist this
// always is.
func (m *Manager) RenditionFile(ctx context.Context, stageName, rendition, name string) (data []byte, contentType string, ok bool) {
	if name == PlaylistName {
		data, status := m.RenditionPlaylist(ctx, stageName, rendition, -1, -1, false)
		return data, ContentTypePlaylist, status == http.StatusOK
	}
	return m.pathFile(ctx, renditionKey(stageName, rendition), name)
}

// renditionKey is the publish path of a rendition named in a request.
func renditionKey(stageName, rendition string) string {
	if rendition == stream.SourceRendition {
		rendition = ""
	}
	return pathKey(stageName, rendition)
}

func (m *Manager) pathFile(ctx context.Context, key, name string) (data []byte, contentType string, ok bool) {
	st, done := m.lookup(key)
	if st == nil {
		return nil, "", false
	}
	ctype := ContentTypeInit
	if strings.HasSuffix(name, ".m4s") {
		ctype = ContentTypeSegment
	}
	var timer *time.Timer
	for {
		data, snap, changed := st.served.file(name)
		if data != nil {
			return data, ctype, true
		}
		if snap == nil || !snap.upcomingPart(name) {
			return nil, "", false
		}
		if timer == nil {
			timer = time.NewTimer(blockLimit(snap))
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, "", false
		case <-ctx.Done():
			return nil, "", false
		case <-done:
			return nil, "", false
		}
	}
}

// Playlist answers a request for a stage's live playlist (RFC 8216bis
// §6.2.5). msn and part are _HLS_msn and _HLS_part (-1 when absent; part
// needs msn, which the caller checks), skip is _HLS_skip=YES (or v2).
//
// With msn, on a low-latency stage, Playlist blocks until the playlist holds
// that segment, or that part of it, or anything later: at most three target
// durations, then 503. A request more than two segments ahead of the one in
// progress, or further ahead in parts than the Advance Part Limit, is 400 at
// once. Without parts (classic), msn, part and skip are ignored. Status is
// 200 with the body, 400, 404 (unknown stage, offline with no playlist) or 503.
// Waiting costs the caller's goroutine only: it sleeps on the stage's change
// channel.
//
// While the stage has renditions beside its source, its playlist is the
// multivariant playlist, and the directives belong to the renditions' media
// playlists (RenditionPlaylist). A request with directives comes from a
// player that loaded this URL as a media playlist, before the stage had
// renditions: it gets the source's media playlist, so that it plays on
// (a multivariant playlist in its place would stop it).
func (m *Manager) Playlist(ctx context.Context, stageName string, msn, part int64, skip bool) (data []byte, status int) {
	m.mu.Lock()
	g := m.groups[stageName]
	m.mu.Unlock()
	if g != nil && msn < 0 && !skip {
		if mv := m.captionsMultivariant(g); mv != nil {
			return mv, http.StatusOK
		}
		if mv := g.multivariant(); mv != nil {
			return mv, http.StatusOK
		}
	}
	return m.pathPlaylist(ctx, pathKey(stageName, ""), msn, part, skip, false)
}

// RenditionPlaylist is Playlist for one of a stage's renditions (or its
// "source"): always a media playlist.
func (m *Manager) RenditionPlaylist(ctx context.Context, stageName, rendition string, msn, part int64, skip bool) (data []byte, status int) {
	return m.pathPlaylist(ctx, renditionKey(stageName, rendition), msn, part, skip, true)
}

// pathPlaylist answers for one publish path; reports adds the other
// variants' rendition reports while the stage is multivariant (the path was
// asked for by its rendition URL, which the reports' URIs are relative to).
func (m *Manager) pathPlaylist(ctx context.Context, key string, msn, part int64, skip, reports bool) (data []byte, status int) {
	st, done := m.lookup(key)
	if st == nil {
		return nil, http.StatusNotFound
	}
	var timer *time.Timer
	for {
		snap, live, changed := st.served.playlist()
		var wait bool
		switch {
		case snap == nil:
			if !live {
				return nil, http.StatusNotFound
			}
			wait = true
		case msn >= 0 && snap.lowLatency():
			if snap.tooFar(uint64(msn), part) {
				return nil, http.StatusBadRequest
			}
			if !snap.has(uint64(msn), int(min(part, math.MaxInt32))) {
				wait = true
				if timer == nil {
					timer = time.NewTimer(blockLimit(snap))
					defer timer.Stop()
				}
			}
		}
		if !wait {
			return m.render(st, snap, skip, reports)
		}
		var expired <-chan time.Time
		if timer != nil {
			expired = timer.C
		}
		select {
		case <-changed:
		case <-expired:
			return nil, http.StatusServiceUnavailable
		case <-ctx.Done():
			if snap == nil {
				return nil, http.StatusNotFound
			}
			return nil, http.StatusServiceUnavailable
		case <-done:
			return nil, http.StatusNotFound
		}
	}
}

// render returns the snapshot's playlist, full or delta, with or without
// rendition reports, rendering each form on first use.
func (m *Manager) render(st *stage, snap *snapshot, skip, reports bool) ([]byte, int) {
	delta := skip && snap.lowLatency() && snap.skippable() > 0
	var rs []playlist.RenditionReport
	if reports && snap.lowLatency() {
		rs = st.grp.reports(st.served)
	}
	form := snap.form(delta, len(rs) > 0)
	body, err := form.get(func() ([]byte, error) { return snap.render(delta, rs) })
	if err != nil {
		st.log.Error("cannot render the live playlist", "error", err)
		return nil, http.StatusInternalServerError
	}
	return body, http.StatusOK
}

// blockLimit bounds a blocking request: three target durations
// (RFC 8216bis §6.2.5.2).
func blockLimit(s *snapshot) time.Duration { return 3 * secondsDuration(s.target) }

// lookup returns the segmenter of a publish path (pathKey) and the channel
// closed when the manager closes.
func (m *Manager) lookup(key string) (*stage, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stages[key], m.done
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

// setPathWarning sets the path's warning key, or clears it (w zero).
func (m *Manager) setPathWarning(st *stage, key string, w stream.Warning) {
	if m.Warnings != nil {
		m.Warnings.SetRenditionWarning(st.name, st.rendition, key, w)
	}
}
