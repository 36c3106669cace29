package hls

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// snapshot is the live playlist of one stage at one moment: an immutable copy
// of the window taken by the segmenting goroutine at each change (a segment,
// a part), rendered lazily by the first request that wants it, at most once
// per form (full, delta). A stage nobody watches never renders a playlist.
type snapshot struct {
	mediaSeq uint64 // EXT-X-MEDIA-SEQUENCE, the first entry's
	discSeq  uint64
	target   int     // EXT-X-TARGETDURATION, seconds
	entries  []entry // finished segments, oldest first

	// Low-latency HLS when partTarget > 0.
	partTarget time.Duration
	partsFrom  uint64      // first segment whose parts are listed
	open       []partEntry // parts of segment nextSeq, in progress
	nextSeq    uint64
	// hint is the URI of the next part (EXT-X-PRELOAD-HINT), "" while offline.
	hint string

	full, delta rendered
}

// rendered is one rendered form of a snapshot.
type rendered struct {
	once sync.Once
	body []byte
	err  error
}

func (r *rendered) get(render func() ([]byte, error)) ([]byte, error) {
	r.once.Do(func() { r.body, r.err = render() })
	return r.body, r.err
}

// snapshot copies the window. live tells whether a next part is coming.
func (w *window) snapshot(live bool) *snapshot {
	s := &snapshot{
		discSeq:    w.discSeq,
		target:     w.target,
		entries:    append([]entry(nil), w.entries...),
		partTarget: w.partTarget,
		partsFrom:  w.partsFrom,
		open:       append([]partEntry(nil), w.open...),
		nextSeq:    w.nextSeq,
	}
	if len(s.entries) > 0 {
		s.mediaSeq = s.entries[0].seq
	}
	if live && w.partTarget > 0 {
		s.hint = partName(w.nextSeq, len(w.open))
	}
	return s
}

// lowLatency tells whether the playlist has parts.
func (s *snapshot) lowLatency() bool { return s.partTarget > 0 }

// has tells whether the playlist answers a blocking request for segment msn,
// part part (part < 0: the whole segment), RFC 8216bis §6.2.5.2: it contains
// that part or a later one, or that segment or a later one.
func (s *snapshot) has(msn uint64, part int) bool {
	if msn < s.nextSeq {
		return true
	}
	if msn > s.nextSeq || part < 0 {
		return false
	}
	return part < len(s.open)
}

// canSkip is CAN-SKIP-UNTIL: six target durations, the shortest the spec
// allows, so delta updates start as soon as the window is long enough.
func (s *snapshot) canSkip() time.Duration { return 6 * secondsDuration(s.target) }

// skippable is the number of leading segments a delta update leaves out:
// those that end at least CAN-SKIP-UNTIL before the end of the playlist, so
// that what is listed always covers the skip boundary (RFC 8216bis §6.2.5.1).
func (s *snapshot) skippable() int {
	var end time.Duration
	for _, e := range s.entries {
		end += e.dur
	}
	for _, p := range s.open {
		end += p.dur
	}
	limit := s.canSkip()
	var at time.Duration
	n := 0
	for _, e := range s.entries {
		if end-(at+e.dur) < limit {
			break
		}
		at += e.dur
		n++
	}
	return n
}

// advancePartLimit is how many parts past the newest a blocking request may
// ask for: three seconds of parts when parts are shorter than a second, else
// three (RFC 8216bis §6.2.5.2).
func (s *snapshot) advancePartLimit() int {
	if s.partTarget < time.Second {
		return int(3 * time.Second / s.partTarget)
	}
	return 3
}

// tooFar tells whether a blocking request for segment msn, part part is so
// far ahead that it must be refused at once (400): more than two segments
// after the one in progress, or more parts ahead than the Advance Part Limit.
func (s *snapshot) tooFar(msn uint64, part int64) bool {
	if msn > s.nextSeq+2 {
		return true
	}
	return msn == s.nextSeq && part > int64(len(s.open)+s.advancePartLimit())
}

// upcomingPart tells whether name is a part of the segment in progress that
// does not exist yet but will soon: the one the preload hint names, or up to
// the Advance Part Limit after it. A request for it may wait.
func (s *snapshot) upcomingPart(name string) bool {
	if !s.lowLatency() || s.hint == "" {
		return false
	}
	seq, n, ok := parsePartName(name)
	if !ok || seq != s.nextSeq {
		return false
	}
	return n >= len(s.open) && n <= len(s.open)+s.advancePartLimit()
}

// parsePartName reads "{seq}.{n}.m4s".
func parsePartName(name string) (seq uint64, n int, ok bool) {
	base, found := strings.CutSuffix(name, ".m4s")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(base, ".")
	if !found {
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	n64, err := strconv.ParseUint(b, 10, 31)
	if err != nil {
		return 0, 0, false
	}
	return seq, int(n64), true
}
