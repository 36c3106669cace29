package hls

import (
	"math"
	"time"

	"github.com/salon/salon/hls/playlist"
)

// entry is one segment as the playlist knows it.
type entry struct {
	seq      uint64
	name     string
	initName string
	dur      time.Duration
	start    time.Time
	// ptl is the segment's start on the stage's timeline (its tfdt), for
	// the subtitle segments' X-TIMESTAMP-MAP.
	ptl   time.Duration
	disc  bool // EXT-X-DISCONTINUITY before it
	parts []partEntry
	// keepUntil is the stage's total segment time after which a retired
	// segment is no longer served.
	keepUntil time.Duration
}

// window is the live playlist of one stage and the segments that left it but
// must stay fetchable. It is owned by the segmenting goroutine.
//
// Sliding follows RFC 8216 §6.2.2: the playlist keeps at least Window and at
// least three target durations of segments; a segment removed from it stays
// available for its own duration plus the duration of the playlist it was
// last in, counted in media time added since (which is wall time for a live
// stream, and does not expire anything while the stage is offline).
type window struct {
	size    time.Duration
	entries []entry
	retired []entry
	sum     time.Duration // duration of entries
	total   time.Duration // duration of every segment ever added
	discSeq uint64        // EXT-X-DISCONTINUITY-SEQUENCE
	// target is EXT-X-TARGETDURATION in seconds. It starts at the configured
	// segment duration rounded up and only grows, when a segment (a long GOP)
	// rounds to more: RFC 8216 wants it constant, but a too small value would
	// make the playlist invalid, and players cope with growth better.
	target int
	// inits counts the segments (listed or retired) that use each init segment.
	inits map[string]int

	// Low-latency HLS, when partTarget > 0.
	//
	// partTarget is EXT-X-PART-INF's PART-TARGET: the configured part
	// duration, grown (never shrunk) to the longest part cut so far.
	partTarget time.Duration
	open       []partEntry // parts of the segment in progress, nextSeq
	openHead   segHead     // and its segment tags
	nextSeq    uint64
	// partsFrom is the first segment whose parts are listed: the segments
	// within three target durations of the end (RFC 8216bis §4.4.4.9).
	partsFrom uint64
	// partFiles are the part file names of finished segments still served:
	// those listed, and partsKeptAfter segments more for players that hold
	// an older playlist (a paused hls.js keeps loading from it). A part is a
	// slice of its segment, so keeping it costs a map entry.
	partFiles []segParts
}

// segHead holds the segment tags of a segment in progress, written before
// its parts: a new publish or new codec parameters start it with a
// discontinuity and another init segment, announced before its first part.
type segHead struct {
	init  string
	disc  bool
	start time.Time
}

// partEntry is one part (EXT-X-PART) of a segment.
type partEntry struct {
	name        string
	dur         time.Duration
	independent bool
}

type segParts struct {
	seq   uint64
	names []string
}

func newWindow(size, segDur, part time.Duration) *window {
	return &window{
		size:       size,
		target:     int(math.Ceil(segDur.Seconds())),
		inits:      map[string]int{},
		partTarget: part,
	}
}

// addPart lists a part of the segment in progress; head describes that
// segment and is kept from its first part.
func (w *window) addPart(p partEntry, head segHead) {
	if len(w.open) == 0 {
		w.openHead = head
	}
	w.open = append(w.open, p)
	if p.dur > w.partTarget {
		w.partTarget = p.dur
	}
}

// roundSeconds rounds a duration to whole seconds, half up, as RFC 8216
// §4.3.3.1 compares EXTINF to the target duration.
func roundSeconds(d time.Duration) int {
	return int((d + time.Second/2) / time.Second)
}

func secondsDuration(s int) time.Duration { return time.Duration(s) * time.Second }

// add appends a segment, slides the window and returns the names of files
// that are no longer needed. currentInit is never returned.
func (w *window) add(e entry, currentInit string) (remove []string) {
	if t := roundSeconds(e.dur); t > w.target {
		w.target = t
	}
	if w.partTarget > 0 {
		e.parts, w.open = w.open, nil
	}
	w.nextSeq = e.seq + 1
	w.entries = append(w.entries, e)
	w.sum += e.dur
	w.total += e.dur
	w.inits[e.initName]++

	keep := max(w.size, 3*secondsDuration(w.target))
	for len(w.entries) > 1 && w.sum-w.entries[0].dur >= keep {
		old := w.entries[0]
		w.entries = w.entries[1:]
		if old.disc {
			w.discSeq++
		}
		old.keepUntil = w.total + old.dur + w.sum
		w.sum -= old.dur
		w.retired = append(w.retired, old)
	}
	for len(w.retired) > 0 && w.total > w.retired[0].keepUntil {
		old := w.retired[0]
		w.retired = w.retired[1:]
		remove = append(remove, old.name)
		w.inits[old.initName]--
	}
	if w.partTarget > 0 {
		remove = w.slideParts(e, remove)
	}
	for name, n := range w.inits {
		if n <= 0 && name != currentInit {
			delete(w.inits, name)
			remove = append(remove, name)
		}
	}
	// Let the backing arrays be reused instead of growing forever.
	if cap(w.entries) > 4*len(w.entries)+16 {
		w.entries = append([]entry(nil), w.entries...)
	}
	if cap(w.retired) > 4*len(w.retired)+16 {
		w.retired = append([]entry(nil), w.retired...)
	}
	return remove
}

// partsKeptAfter is how many segments' parts stay served after they left
// the playlist.
const partsKeptAfter = 3

// slideParts moves partsFrom after e was added and returns the part files
// of segments more than partsKeptAfter segments before it, appended to
// remove.
func (w *window) slideParts(e entry, remove []string) []string {
	var sum time.Duration
	w.partsFrom = e.seq
	for i := len(w.entries) - 1; i >= 0; i-- {
		w.partsFrom = w.entries[i].seq
		sum += w.entries[i].dur
		// A millisecond of slack: durations are sums of rounded ticks.
		if sum >= 3*secondsDuration(w.target)-time.Millisecond {
			break
		}
	}
	names := make([]string, len(e.parts))
	for i, p := range e.parts {
		names[i] = p.name
	}
	w.partFiles = append(w.partFiles, segParts{seq: e.seq, names: names})
	for len(w.partFiles) > 0 && w.partFiles[0].seq+partsKeptAfter < w.partsFrom {
		remove = append(remove, w.partFiles[0].names...)
		w.partFiles = w.partFiles[1:]
	}
	return remove
}

// render encodes the live playlist, full or as a delta update (skip, on a
// low-latency stage whose playlist is long enough), through the playlist
// package. The window must not be empty.
func (s *snapshot) render(skip bool, reports []playlist.RenditionReport) ([]byte, error) {
	m := playlist.Media{
		Version:               7,
		TargetDuration:        secondsDuration(s.target),
		MediaSequence:         s.mediaSeq,
		DiscontinuitySequence: s.discSeq,
		// Every salon segment starts with a keyframe.
		IndependentSegments: true,
	}
	first := 0
	if s.lowLatency() {
		m.ServerControl = &playlist.ServerControl{
			CanBlockReload: true,
			PartHoldBack:   3 * s.partTarget,
			CanSkipUntil:   s.canSkip(),
		}
		m.PartTarget = s.partTarget
		m.Parts = appendParts(nil, s.open)
		if len(s.open) > 0 {
			m.PartsDiscontinuity = s.openHead.disc
			m.PartsMap = s.openHead.init
			m.PartsDateTime = s.openHead.start
		}
		if s.hint != "" {
			m.PreloadHint = &playlist.PreloadHint{Type: playlist.HintPart, URI: s.hint}
		}
		if skip {
			first = s.skippable()
			m.Skipped = uint64(first)
		}
		m.RenditionReports = reports
	}
	m.Segments = make([]playlist.Segment, 0, len(s.entries)-first)
	for i := first; i < len(s.entries); i++ {
		e := &s.entries[i]
		seg := playlist.Segment{
			URI:           e.name,
			Duration:      e.dur,
			Map:           e.initName,
			Discontinuity: e.disc,
			DateTime:      e.start,
		}
		if s.lowLatency() && e.seq >= s.partsFrom {
			seg.Parts = appendParts(nil, e.parts)
		}
		m.Segments = append(m.Segments, seg)
	}
	return m.Marshal()
}

func appendParts(out []playlist.Part, ps []partEntry) []playlist.Part {
	for _, p := range ps {
		out = append(out, playlist.Part{URI: p.name, Duration: p.dur, Independent: p.independent})
	}
	return out
}
