package hls

import (
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
	st.al.epoch = 0
	st.log.Info("rendition paused: the stage's source left; it goes on when the source is back", "run", r.id)
}
