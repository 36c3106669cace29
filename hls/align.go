package hls

import (
	"fmt"
	"time"

	"github.com/salon/salon/ingest/stream"
)

// Renditions are segmented on the source's timeline so that a player can
// switch between them at any segment boundary without a stall:
//
//   - Anchoring. A rendition's stream clock is not the source's (another
//     connection, perhaps another encoder), so at its first keyframe the
//     rendition estimates the offset from arrival times (the minimum of
//     received − DTS over each stream's units, which network and encoder
//     delays only raise), then snaps it to the source keyframe presented
//     nearest to that estimate (within snapWindow). Encoders with aligned GOPs put both keyframes
//     on the same frame, so the snap is exact and the rendition's decode
//     times, segment starts and PROGRAM-DATE-TIMEs equal the source's.
//   - Cutting. Once the source has got to a rendition keyframe, the rendition
//     cuts there if and only if the source started a segment within half a
//     frame of it; while the rendition is ahead of the source it predicts the
//     source's rule (first keyframe at least one target after the open
//     segment's), which gives the same cut for the same keyframes.
//   - Checking. Every source segment start that the rendition has passed must
//     have a rendition keyframe within half a frame of it. Two misses in a row
//     set a warning (log once per publish, and /api/stages) that says how to
//     fix the encoder; the rendition is still served, cut at its own keyframes
//     by the source's rule, and three hits in a row clear the warning.
//
// A rendition is segmented only while the stage's source is live: without the
// source there is no timeline to align to. It waits (and says so) until the
// source publishes, and pauses when the source leaves.

// snapWindow bounds how far the arrival-time estimate of a rendition's
// offset may be from a source keyframe for the two to be taken as the same
// frame: 400 ms, or up to half the source's keyframe interval (at most
// 1.5 s), since an encoder's aligned keyframe can only be a source keyframe.
// A rendition made from the source by a transcoder arrives late by the
// encoder's latency, which the estimate counts as offset.
func (g *group) snapWindow() time.Duration {
	w := 400 * time.Millisecond
	if n := len(g.srcKeys); n >= 2 {
		w = max(w, min((g.srcKeys[n-1]-g.srcKeys[n-2])/2, maxSnapWindow))
	}
	return w
}

// maxSnapWindow is the most snapWindow can be.
const maxSnapWindow = 1500 * time.Millisecond

// anchorTries is how many rendition keyframes may find no source keyframe
// near them before the rendition anchors on the estimate alone.
const anchorTries = 4

// maxHeld bounds how long a rendition holds its first units while the
// source has not yet got to the keyframe it may be aligned with: past it,
// the rendition anchors on the estimate alone.
const maxHeld = 3 * time.Second

// anchorDecision is what anchor decided for a rendition keyframe.
type anchorDecision int

const (
	anchorDrop anchorDecision = iota // no timeline to anchor on: drop the units
	anchorHold                       // the source has not got there yet: hold the units
	anchorNext                       // no source keyframe near it: try the rendition's next keyframe
	anchorDone                       // anchored: r.base and r.firstReceived are set
)

// aligner is one rendition's alignment state for one publish. Owned by the
// segmenting goroutine.
type aligner struct {
	st *stage
	// clock is min(received − DTS) of the rendition's main units (see
	// group.srcZero).
	clock   time.Time
	clockOK bool
	// held are the rendition's units from the keyframe it anchors at,
	// while the source has not yet got there (a rendition can arrive
	// before its source, over another connection).
	held  []*stream.Unit
	tries int // keyframes that found no source keyframe near them

	epoch    int  // the group epoch the rendition is anchored on (0: none)
	snapped  bool // the anchor matched a source keyframe
	segments int  // segments since the anchor

	keys      []time.Duration // the rendition's latest keyframes (timeline)
	checkedTo time.Duration   // source segment starts up to here are checked
	misses    int             // source segment starts in a row without a rendition keyframe
	hits      int
	warnSet   bool
	logged    bool // the misalignment was logged for this publish
	waitSet   bool // the "waiting for the source" warning is shown
}

// observe follows the rendition's stream clock against the wall clock.
func (al *aligner) observe(u *stream.Unit) {
	zero := u.Received.Add(-u.DTS)
	if !al.clockOK || zero.Before(al.clock) {
		al.clock, al.clockOK = zero, true
	}
}

// anchor places the rendition's run on the source's timeline at keyframe u
// of the main track, or tells the caller to hold the units from u until the
// source gets there (force: decide now), or to drop them.
func (al *aligner) anchor(r *run, u *stream.Unit, tol time.Duration, force bool) anchorDecision {
	st, g := al.st, al.st.grp
	if !g.srcLive || !g.srcZeroOK || !al.clockOK {
		if !al.waitSet {
			al.waitSet = true
			st.m.setPathWarning(st, "align", stream.Warn("hls.rendition_waits", "Stage", g.name))
			st.log.Warn("rendition waits for the stage's source: publish the best output to the stage's plain path", "publish_to", "live/"+g.name)
		}
		return anchorDrop
	}
	if al.waitSet {
		al.waitSet = false
		st.m.setPathWarning(st, "align", stream.Warning{})
	}
	// Source stream time of u's presentation, from the arrival estimate:
	// a source unit of DTS d arrives at srcZero + d, a rendition unit of
	// DTS d at al.clock + d (plus delays).
	offset := al.clock.Sub(g.srcZero) // rendition stream time + offset = source stream time
	est := g.srcBase + (u.PTS + offset - g.srcStart)
	ptl, snapped := est, false
	window := g.snapWindow()
	if !r.tracks[r.main].video {
		// An audio-only rendition can cut at any frame: the estimate is
		// the best anchor, and it cuts where the source does.
		snapped = true
	} else if !force && (!g.srcLatestOK || g.srcLatest < est+maxSnapWindow) {
		// The source may still present a keyframe near here, and its
		// keyframe interval (which sets the window) may not be known yet.
		return anchorHold
	} else if k, ok := nearest(g.srcKeys, est); ok && absDur(k-est) <= window {
		ptl, snapped = k, true
	} else if !force && al.tries < anchorTries {
		al.tries++
		return anchorNext
	}
	if ptl < 0 {
		return anchorDrop
	}
	r.base = ptl - (u.PTS - u.DTS)
	r.firstReceived = g.srcWall.Add(r.base - g.srcBase)
	al.epoch, al.snapped, al.segments, al.tries = g.epoch, snapped, 0, 0
	al.keys = al.keys[:0]
	al.checkedTo = ptl - tol
	st.log.Info("rendition anchored on the source's timeline", "run", r.id, "snapped_to_source_keyframe", snapped,
		"offset_estimate_error", (ptl - est).String())
	return anchorDone
}

// stale tells whether the source anchored again since the rendition did.
func (al *aligner) stale() bool { return al.epoch != al.st.grp.epoch }

// shouldCut tells whether the rendition's keyframe presented at ptl ends the
// open segment, which began at segKey.
func (al *aligner) shouldCut(ptl, segKey, tol, target time.Duration) bool {
	g := al.st.grp
	if !al.snapped || al.warnSet {
		return ptl-segKey >= target-tol // not aligned: cut as a stage of its own
	}
	if reached, ok := g.sourceReached(); ok && reached >= ptl-tol {
		if b, ok := nearest(g.srcBounds, ptl); ok && absDur(b-ptl) <= tol && ptl-segKey > tol {
			return true
		}
		return ptl-segKey >= 2*target-tol // keep segments bounded
	}
	return ptl-segKey >= target-tol
}

// key records a rendition keyframe and checks the source segment starts it
// has passed.
func (al *aligner) key(ptl, tol time.Duration) {
	al.keys = appendBounded(al.keys, ptl)
	g := al.st.grp
	reached, ok := g.sourceReached()
	if !ok {
		return
	}
	limit := min(reached, ptl)
	for _, b := range g.srcBounds {
		if b <= al.checkedTo || b > limit {
			continue
		}
		if k, ok := nearest(al.keys, b); ok && absDur(k-b) <= tol {
			al.hits++
			al.misses = 0
		} else {
			al.misses++
			al.hits = 0
			if al.misses >= 2 && !al.warnSet {
				al.warn(b, k)
			}
		}
	}
	if limit > al.checkedTo {
		al.checkedTo = limit
	}
	if al.hits >= 3 && al.warnSet {
		al.warnSet = false
		al.st.m.setPathWarning(al.st, "align", stream.Warning{})
		al.st.log.Info("rendition keyframes aligned with the source's again")
	}
}

// alignAdvice says how to make an encoder's outputs cut keyframes on the
// same frames.
const alignAdvice = "give every output the same fixed keyframe interval: ffmpeg -g 50 -keyint_min 50 -sc_threshold 0 at 25 fps (or -force_key_frames \"expr:gte(t,n_forced*2)\"), OBS: the same keyframe interval (not 0/auto) in every output's encoder settings"

func (al *aligner) warn(boundary, key time.Duration) {
	al.warnSet = true
	st := al.st
	st.m.setPathWarning(st, "align", stream.Warn("hls.align_keyframes",
		"Boundary", fmt.Sprintf("%.3f", boundary.Seconds()), "Keyframe", fmt.Sprintf("%.3f", key.Seconds())))
	if !al.logged {
		al.logged = true
		st.log.Warn("rendition keyframes are not aligned with the source's: players may stall when they switch rendition",
			"source_segment_start", boundary.String(), "rendition_keyframe", key.String(), "fix", alignAdvice)
	}
}

// clear removes the rendition's alignment warnings (end of its publish).
func (al *aligner) clear() {
	if al.warnSet || al.waitSet {
		al.st.m.setPathWarning(al.st, "align", stream.Warning{})
	}
	al.warnSet, al.waitSet = false, false
}
