package hls

import (
	"slices"
	"time"

	"github.com/salon/salon/ingest/stream"
)

// The segmenter's hooks for renditions: a source tells its group where its
// keyframes and segments fall on the timeline; a rendition follows them
// (align.go). All run on the segmenting goroutine.

// observe follows the stream clock of a main-track unit against the wall
// clock, before the run is anchored too.
func (st *stage) observe(u *stream.Unit) {
	if st.al != nil {
		st.al.observe(u)
	} else if st.run != nil && st.run.started {
		st.grp.sourceUnit(u)
	}
}

// anchorRendition starts a rendition's run on the source's timeline. From
// a keyframe of its main track (mainKey) on, it holds the rendition's units
// while the source has not yet got there, then segments them all once the
// anchor is decided.
func (st *stage) anchorRendition(r *run, u *stream.Unit, mainKey bool) {
	al := st.al
	if len(al.held) == 0 && !mainKey {
		return
	}
	al.held = append(al.held, u)
	tol := cutTolerance(r.tracks[r.main], st.m.SegmentDuration)
	for len(al.held) > 0 {
		first := al.held[0]
		switch al.anchor(r, first, tol, u.DTS-first.DTS >= maxHeld) {
		case anchorHold:
			return
		case anchorDrop:
			al.held = al.held[:0]
			return
		case anchorNext:
			next := slices.IndexFunc(al.held[1:], func(h *stream.Unit) bool { return h.Track == r.main && h.RandomAccess })
			if next < 0 {
				al.held = al.held[:0]
				return
			}
			al.held = al.held[next+1:]
			continue
		}
		held := al.held
		al.held = nil
		r.started = true
		r.startDTS = first.DTS
		st.anchored(r)
		for _, h := range held {
			st.unit(h)
		}
		return
	}
}

// anchored follows the anchoring of a run's stream clock on the timeline.
func (st *stage) anchored(r *run) {
	if st.al == nil {
		st.grp.sourceAnchored(r)
	}
}

// segmentOpened follows the start of a segment at keyframe ptl.
func (st *stage) segmentOpened(ptl time.Duration) {
	if st.al == nil {
		st.grp.sourceSegment(ptl)
	}
}

// keyframe follows a keyframe of the main track presented at ptl.
func (st *stage) keyframe(ptl, tol time.Duration) {
	if st.al == nil {
		st.grp.sourceKey(ptl)
	} else {
		st.al.key(ptl, tol)
	}
}

// segmentDone follows a finished segment: its size counts for BANDWIDTH
// and the stage's multivariant playlist is rendered again.
func (st *stage) segmentDone(seg *Segment) {
	st.rates.add(len(seg.Data), seg.Duration)
	if st.al != nil {
		st.al.segments++
	}
	st.grp.update()
}

// ended follows the end of a run.
func (st *stage) ended(now time.Time) {
	if st.al != nil {
		st.al.clear()
		st.al = nil
		st.grp.update()
		return
	}
	st.grp.sourceEnded(now)
}

// pause ends a rendition's open segment and makes it anchor again when the
// source is back.
func (st *stage) pause(now time.Time) {
	r := st.run
	if r == nil || st.al == nil || !r.started {
		return
	}
	st.closeOut(now)
	r.started = false
	st.al.held = nil
	st.al.epoch = 0
	st.log.Info("rendition paused: the stage's source left; it goes on when the source is back", "run", r.id)
}
