package hls

import (
	"sort"
	"sync"
	"time"

	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/ingest/stream"
)

// group is one stage's publish paths: its source segmenter and one segmenter
// per rendition (a publish to live/{stage}/{rendition}), the state that keeps
// the renditions' segments aligned with the source's (align.go), and the
// multivariant playlist over them (multivariant.go).
//
// Everything but mv is owned by the caller of Manager.HandleEvent (one at a
// time); mu guards mv, read by File.
type group struct {
	m          *Manager
	name       string
	source     *stage            // nil until the source is first published
	renditions map[string]*stage // by rendition name

	// The source's current anchoring of its stream clock on the timeline.
	// epoch counts anchorings (new runs, timestamp jumps): a rendition
	// anchored on an older epoch anchors again.
	srcLive  bool
	epoch    int
	srcBase  time.Duration // timeline time at srcStart
	srcStart time.Duration // source stream DTS at srcBase
	srcWall  time.Time     // wall clock at srcBase
	// srcZero is min(received − DTS) over the source's main units: where its
	// stream clock's zero falls on the wall clock, delays aside.
	srcZero   time.Time
	srcZeroOK bool
	// srcKeys are the presentation times (timeline) of the source's latest
	// keyframes, oldest first; srcBounds the times at which its segments
	// started (a subset of srcKeys).
	srcKeys   []time.Duration
	srcBounds []time.Duration
	// srcLatest is the presentation time (timeline) of the source's latest
	// main unit: how far it has got.
	srcLatest   time.Duration
	srcLatestOK bool

	mu sync.Mutex
	mv []byte // the multivariant playlist; nil while the stage has only its source
	// vs are the variants now on offer (the source alone, or with its
	// renditions): with live captions the playlist is multivariant even
	// over the source alone (captions.go).
	vs []playlist.Variant
	// listed are the paths mv lists, for the renditions' reports of each
	// other (EXT-X-RENDITION-REPORT).
	listed []listedPath
}

// listedPath is one variant of the multivariant playlist: its name in the
// URL ("source" or the rendition's) and what it serves.
type listedPath struct {
	name   string
	served *served
}

// maxAlignKeys bounds srcKeys and srcBounds: about a minute of 2 s GOPs.
const maxAlignKeys = 32

func newGroup(m *Manager, name string) *group {
	return &group{m: m, name: name, renditions: map[string]*stage{}}
}

// multivariant returns the multivariant playlist, nil while the stage serves
// only its source.
func (g *group) multivariant() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mv
}

// sourceAnchored records a new anchoring of the source's stream clock.
func (g *group) sourceAnchored(r *run) {
	g.srcLive = true
	g.epoch++
	g.srcBase, g.srcStart, g.srcWall = r.base, r.startDTS, r.firstReceived
	// The anchoring unit is the first measure of the source's clock.
	g.srcZero, g.srcZeroOK = r.firstReceived.Add(-r.startDTS), true
	g.srcKeys, g.srcBounds = g.srcKeys[:0], g.srcBounds[:0]
	g.srcLatestOK = false
}

// sourceUnit follows the source's stream clock against the wall clock.
func (g *group) sourceUnit(u *stream.Unit) {
	if zero := u.Received.Add(-u.DTS); !g.srcZeroOK || zero.Before(g.srcZero) {
		g.srcZero, g.srcZeroOK = zero, true
	}
	if ptl := g.srcBase + (u.PTS - g.srcStart); !g.srcLatestOK || ptl > g.srcLatest {
		g.srcLatest, g.srcLatestOK = ptl, true
	}
}

// sourceKey records a keyframe of the source presented at ptl (timeline).
func (g *group) sourceKey(ptl time.Duration) {
	g.srcKeys = appendBounded(g.srcKeys, ptl)
}

// sourceSegment records that a source segment starts at ptl.
func (g *group) sourceSegment(ptl time.Duration) {
	g.srcBounds = appendBounded(g.srcBounds, ptl)
}

func appendBounded(s []time.Duration, v time.Duration) []time.Duration {
	if len(s) >= maxAlignKeys {
		s = append(s[:0], s[len(s)-maxAlignKeys/2:]...)
	}
	return append(s, v)
}

// sourceReached tells how far the source has got: its newest keyframe.
func (g *group) sourceReached() (time.Duration, bool) {
	if len(g.srcKeys) == 0 {
		return 0, false
	}
	return g.srcKeys[len(g.srcKeys)-1], true
}

// nearest returns the element of s closest to v.
func nearest(s []time.Duration, v time.Duration) (time.Duration, bool) {
	best, ok := time.Duration(0), false
	for _, x := range s {
		if !ok || absDur(x-v) < absDur(best-v) {
			best, ok = x, true
		}
	}
	return best, ok
}

// sourceEnded pauses the renditions: they are served beside their source
// only, and anchor again on its next publish.
func (g *group) sourceEnded(now time.Time) {
	g.srcLive, g.srcLatestOK = false, false
	g.srcKeys, g.srcBounds = g.srcKeys[:0], g.srcBounds[:0]
	for _, st := range g.renditionList() {
		st.pause(now)
	}
	g.update()
}

func (g *group) renditionList() []*stage {
	out := make([]*stage, 0, len(g.renditions))
	for _, st := range g.renditions {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rendition < out[j].rendition })
	return out
}

// update renders the multivariant playlist again after a segment, a start
// or an end on one of the stage's paths.
func (g *group) update() {
	var mv []byte
	var listed []listedPath
	vs, paths := g.variants()
	if len(vs) > 1 {
		for _, st := range paths {
			listed = append(listed, listedPath{name: stream.RenditionName(st.rendition), served: st.served})
		}
		var err error
		mv, err = RenderMultivariant(vs)
		if err != nil {
			g.m.Log.Error("cannot render the multivariant playlist; serving the source's playlist alone", "stage", g.name, "error", err)
			mv, listed = nil, nil
		}
	}
	g.mu.Lock()
	g.mv, g.listed, g.vs = mv, listed, vs
	g.mu.Unlock()
}

// reports are the rendition reports for the media playlist of path self
// while the stage is multivariant: where every other listed path's
// playlist ends now, so a player switching to it asks for its next part at
// once (RFC 8216bis §4.4.5.4). URIs are relative to
// /live/{stage}/{self}/index.m3u8.
func (g *group) reports(self *served) []playlist.RenditionReport {
	g.mu.Lock()
	listed := g.listed
	g.mu.Unlock()
	var out []playlist.RenditionReport
	for _, p := range listed {
		if p.served == self {
			continue
		}
		snap, _, _ := p.served.playlist()
		if snap == nil {
			continue
		}
		msn, part := snap.lastPart()
		out = append(out, playlist.RenditionReport{URI: "../" + p.name + "/" + PlaylistName, LastMSN: msn, LastPart: part})
	}
	return out
}

// variants lists what the multivariant playlist offers, and the paths
// behind them: the source, then every rendition that has a segment since it
// anchored on the source's current publish. Nothing while the source is
// offline.
func (g *group) variants() ([]playlist.Variant, []*stage) {
	src := g.source
	if src == nil || !g.srcLive || src.run == nil || src.rates.count() == 0 {
		return nil, nil
	}
	out, paths := []playlist.Variant{src.variant()}, []*stage{src}
	for _, st := range g.renditionList() {
		if st.run != nil && st.al != nil && st.al.segments > 0 && st.al.epoch == g.epoch {
			out = append(out, st.variant())
			paths = append(paths, st)
		}
	}
	return out, paths
}
