package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/salon/salon/hls/playlist"
)

// runLogName is the file, in a run's spool directory, that records the run
// as the recorder knows it: one JSON object per line, appended (and fsynced)
// for every segment, and once more when the run ends. Append-only keeps the
// cost of a segment constant however long the run is; a line torn by a crash
// is the last one and is skipped when the log is read back.
const runLogName = "run.jsonl"

// maxSegmentDuration bounds what a run log may claim for one segment: a GOP
// longer than this is no plausible encoder setting.
const maxSegmentDuration = time.Hour

// segRecord is one segment of a run, as logged and as listed in the run's
// playlist.
type segRecord struct {
	Seq      uint64        `json:"seq"`
	Duration time.Duration `json:"duration_ns"`
	Start    time.Time     `json:"start"` // EXT-X-PROGRAM-DATE-TIME
	Init     string        `json:"init"`  // the init segment's name ("init-3.mp4")

	// stored is true once the segment is in the Store (not logged: a spooled
	// segment whose spool file is gone was stored).
	stored bool
}

// runLine is one line of a run log: a segment or the end of the run.
type runLine struct {
	Seg   *segRecord `json:"seg,omitempty"`
	Ended bool       `json:"ended,omitempty"`
}

// segmentName is a media segment's file name in the run's directory.
func segmentName(seq uint64) string { return strconv.FormatUint(seq, 10) + ".m4s" }

// validInitName accepts the init segment names the bucket contract allows
// ("init*.mp4") with a character set that needs no quoting in EXT-X-MAP and
// is a single key segment.
func validInitName(name string) bool {
	if len(name) > 64 || !strings.HasPrefix(name, "init") || !strings.HasSuffix(name, ".mp4") {
		return false
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func (s *segRecord) validate() error {
	switch {
	case s.Seq > playlist.MaxSequence:
		return fmt.Errorf("segment %d: sequence number out of range", s.Seq)
	case s.Duration < 0 || s.Duration > maxSegmentDuration:
		return fmt.Errorf("segment %d: duration %s out of range", s.Seq, s.Duration)
	case s.Start.IsZero() || s.Start.Year() < 1970 || s.Start.Year() > 9000:
		return fmt.Errorf("segment %d: start time %s out of range", s.Seq, s.Start)
	case !validInitName(s.Init):
		return fmt.Errorf("segment %d: init segment name %q is not init*.mp4", s.Seq, s.Init)
	}
	return nil
}

// parseRunLog reads a run log back. It never fails as a whole: lines that do
// not parse or validate are skipped and counted in bad (a crash tears at most
// the last line), so that one damaged log cannot stop recovery. Segments come
// back sorted by seq, each seq once (the first line wins).
func parseRunLog(data []byte) (segs []segRecord, ended bool, bad int) {
	seen := map[uint64]bool{}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l runLine
		if err := json.Unmarshal(line, &l); err != nil {
			bad++
			continue
		}
		if l.Ended {
			ended = true
		}
		if l.Seg == nil {
			if !l.Ended {
				bad++
			}
			continue
		}
		if err := l.Seg.validate(); err != nil || seen[l.Seg.Seq] {
			bad++
			continue
		}
		seen[l.Seg.Seq] = true
		segs = append(segs, *l.Seg)
	}
	slices.SortFunc(segs, func(a, b segRecord) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return segs, ended, bad
}

// encodeRunLog writes a whole run log (used when recovery rewrites one).
func encodeRunLog(segs []segRecord, ended bool) []byte {
	var b bytes.Buffer
	for i := range segs {
		b.Write(runLogLine(runLine{Seg: &segs[i]}))
	}
	if ended {
		b.Write(runLogLine(runLine{Ended: true}))
	}
	return b.Bytes()
}

func runLogLine(l runLine) []byte {
	b, err := json.Marshal(l)
	if err != nil {
		// A struct of numbers, strings and a time in range cannot fail.
		panic(fmt.Sprintf("encode run log line: %v", err))
	}
	return append(b, '\n')
}

// errEmptyRun is returned by renderRunPlaylist for a run with no segment.
var errEmptyRun = errors.New("run has no segment to list")

// renderRunPlaylist writes a run's playlist (bucket contract) with
// hls/playlist: version 7, EVENT while open and VOD with EXT-X-ENDLIST once
// ended, EXT-X-MAP with a relative URI before the first segment and again
// (after EXT-X-DISCONTINUITY) where the init segment changes,
// EXT-X-PROGRAM-DATE-TIME on every segment, EXT-X-TARGETDURATION the longest
// EXTINF rounded, relative segment URIs. segs must be sorted by seq.
func renderRunPlaylist(segs []segRecord, ended bool) ([]byte, error) {
	if len(segs) == 0 {
		return nil, errEmptyRun
	}
	p := playlist.Media{
		Version:             7,
		Type:                playlist.TypeEvent,
		IndependentSegments: true,
		MediaSequence:       segs[0].Seq,
		Segments:            make([]playlist.Segment, len(segs)),
		Ended:               ended,
	}
	if ended {
		p.Type = playlist.TypeVOD
	}
	var prevStart time.Time
	for i, s := range segs {
		// Program date-times never go back within a playlist: a publisher's
		// clock jump must not make the run unplayable.
		start := s.Start.UTC().Round(time.Millisecond)
		if start.Before(prevStart) {
			start = prevStart
		}
		prevStart = start
		p.Segments[i] = playlist.Segment{
			URI:      segmentName(s.Seq),
			Duration: s.Duration,
			Map:      s.Init,
			DateTime: start,
			// A new init segment, or a segment lost from the spool (a gap in
			// the sequence, where the media's timestamps jump), must be
			// announced to players.
			Discontinuity: i > 0 && (s.Init != segs[i-1].Init || s.Seq != segs[i-1].Seq+1),
		}
	}
	b, err := p.Marshal()
	if err != nil {
		return nil, fmt.Errorf("render the run playlist: %w", err)
	}
	return b, nil
}
