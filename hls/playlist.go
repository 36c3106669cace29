package hls

import (
	"fmt"
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
	disc     bool // EXT-X-DISCONTINUITY before it
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
	// segs is render's reused list of segments; renderSize the capacity
	// the next playlist is expected to need.
	segs       []playlist.Segment
	renderSize int
}

func newWindow(size, segDur time.Duration) *window {
	return &window{
		size:   size,
		target: int(math.Ceil(segDur.Seconds())),
		inits:  map[string]int{},
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

// render encodes the live playlist into a new slice (the bytes are served
// from memory until the next render replaces them). The window must not be
// empty.
func (w *window) render() ([]byte, error) {
	segs := w.segs[:0]
	for i := range w.entries {
		e := &w.entries[i]
		segs = append(segs, playlist.Segment{
			URI:           e.name,
			Duration:      e.dur,
			Map:           e.initName,
			Discontinuity: e.disc,
			DateTime:      e.start,
		})
	}
	w.segs = segs
	p := playlist.Media{
		Version:               7,
		TargetDuration:        secondsDuration(w.target),
		MediaSequence:         w.entries[0].seq,
		DiscontinuitySequence: w.discSeq,
		// Every salon segment starts with a keyframe.
		IndependentSegments: true,
		Segments:            segs,
	}
	b, err := p.Append(make([]byte, 0, w.renderSize))
	if err != nil {
		return nil, fmt.Errorf("render the live playlist: %w", err)
	}
	w.renderSize = len(b) + len(b)/8
	return b, nil
}
