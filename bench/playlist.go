package bench

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/salon/salon/hls/playlist"
)

// mediaPlaylist is the part of an HLS media playlist (RFC 8216 §4.3, and the
// Low-Latency tags of RFC 8216bis) that a live player needs, read by the
// project's one playlist parser (hls/playlist.ParseMedia) and reduced to what
// the simulated players use.
type mediaPlaylist struct {
	targetDuration time.Duration
	// mediaSequence is the sequence number of segments[0]: EXT-X-MEDIA-SEQUENCE
	// plus the segments a delta update skipped (EXT-X-SKIP).
	mediaSequence uint64
	mapURI        string // EXT-X-MAP URI of the last segment; empty when none
	segments      []segment
	endList       bool

	// Low-Latency HLS; zero in a classic playlist.

	partTarget     time.Duration // EXT-X-PART-INF PART-TARGET
	canBlockReload bool          // EXT-X-SERVER-CONTROL CAN-BLOCK-RELOAD=YES
	partHoldBack   time.Duration // EXT-X-SERVER-CONTROL PART-HOLD-BACK
	canSkipUntil   time.Duration // EXT-X-SERVER-CONTROL CAN-SKIP-UNTIL
	skipped        uint64        // EXT-X-SKIP SKIPPED-SEGMENTS (already in mediaSequence)
	// trailing are the parts after the last complete segment: the first
	// parts of segment edgeSeq(), still being written.
	trailing []part
	// preloadHint is the URI of EXT-X-PRELOAD-HINT TYPE=PART (the next part,
	// which a client may request before it exists); empty when none.
	preloadHint string
}

type segment struct {
	uri      string
	duration time.Duration
	gap      bool   // EXT-X-GAP: a placeholder, never fetched
	parts    []part // EXT-X-PART before the segment's URI; servers keep them only near the live edge
}

// part is one EXT-X-PART.
type part struct {
	uri         string
	duration    time.Duration
	independent bool
}

// lastSeq is the media sequence number of the last segment; ok is false when
// the playlist has no segment yet.
func (p *mediaPlaylist) lastSeq() (seq uint64, ok bool) {
	if len(p.segments) == 0 {
		return 0, false
	}
	return p.mediaSequence + uint64(len(p.segments)) - 1, true
}

// edgeSeq is the sequence number of the segment being written: the one after
// the last complete segment, to which the trailing parts belong.
func (p *mediaPlaylist) edgeSeq() uint64 {
	return p.mediaSequence + uint64(len(p.segments))
}

// nextPart is where a blocking reload asks for the playlist after this one
// (_HLS_msn, _HLS_part): the part after the last one listed.
func (p *mediaPlaylist) nextPart() (msn uint64, part int) {
	return p.edgeSeq(), len(p.trailing)
}

// liveStartSeq is where a player joins the live stream: like hls.js
// (liveSyncDurationCount = 3), three target durations of media before the end
// of the playlist, clamped to the first segment.
func (p *mediaPlaylist) liveStartSeq() uint64 {
	back := 3 * p.targetDuration
	i := len(p.segments)
	var sum time.Duration
	for i > 0 && sum < back {
		i--
		sum += p.segments[i].duration
	}
	return p.mediaSequence + uint64(i)
}

// maxTargetDuration bounds EXT-X-TARGETDURATION so a hostile or broken
// playlist cannot make a viewer sleep past the end of the run by overflow.
const maxTargetDuration = time.Hour

// parseMediaPlaylist reads a media playlist with hls/playlist.ParseMedia and
// refuses what a simulated viewer cannot play: a multivariant playlist
// where a media playlist is expected, and a playlist without
// EXT-X-TARGETDURATION (ParseMedia already refuses byte ranges).
func parseMediaPlaylist(b []byte) (*mediaPlaylist, error) {
	if len(b) == 0 {
		return nil, errors.New("empty playlist")
	}
	if playlist.IsMultivariant(b) {
		return nil, errors.New("this is a multivariant playlist: give the media playlist URL (…/live/{stage}/index.m3u8)")
	}
	m, err := playlist.ParseMedia(b)
	if err != nil {
		return nil, err
	}
	if m.TargetDuration <= 0 || m.TargetDuration > maxTargetDuration {
		return nil, fmt.Errorf("media playlist has no usable EXT-X-TARGETDURATION (%s)", m.TargetDuration)
	}
	if m.Skipped > math.MaxInt64-m.MediaSequence ||
		uint64(len(m.Segments)) >= math.MaxInt64-m.MediaSequence-m.Skipped {
		return nil, errors.New("EXT-X-MEDIA-SEQUENCE overflows")
	}
	p := &mediaPlaylist{
		targetDuration: m.TargetDuration,
		mediaSequence:  m.MediaSequence + m.Skipped,
		skipped:        m.Skipped,
		endList:        m.Ended,
		partTarget:     m.PartTarget,
		segments:       make([]segment, len(m.Segments)),
		trailing:       parts(m.Parts),
	}
	for i, s := range m.Segments {
		p.segments[i] = segment{uri: s.URI, duration: s.Duration, gap: s.Gap, parts: parts(s.Parts)}
		p.mapURI = s.Map
	}
	if sc := m.ServerControl; sc != nil {
		p.canBlockReload = sc.CanBlockReload
		p.partHoldBack = sc.PartHoldBack
		p.canSkipUntil = sc.CanSkipUntil
	}
	if h := m.PreloadHint; h != nil && (h.Type == playlist.HintPart || h.Type == "") {
		p.preloadHint = h.URI
	}
	return p, nil
}

func parts(ps []playlist.Part) []part {
	if len(ps) == 0 {
		return nil
	}
	out := make([]part, len(ps))
	for i, p := range ps {
		out[i] = part{uri: p.URI, duration: p.Duration, independent: p.Independent}
	}
	return out
}

// isMultivariant reports whether b is a multivariant playlist (it lists
// variant streams rather than segments).
func isMultivariant(b []byte) bool { return playlist.IsMultivariant(b) }

// tracksOf reads a multivariant playlist and returns what a player of its
// first variant loads: the variant's media playlist and, when the variant's
// AUDIO group has a rendition with its own URI (MediaMTX puts audio in a
// separate playlist), the default one of that group (else the first). URIs
// are as written.
func tracksOf(b []byte) ([]string, error) {
	m, err := playlist.ParseMultivariant(b)
	if err != nil {
		return nil, err
	}
	if len(m.Variants) == 0 || m.Variants[0].URI == "" {
		return nil, errors.New("multivariant playlist without a variant URI")
	}
	v := m.Variants[0]
	tracks := []string{v.URI}
	if v.Audio == "" {
		return tracks, nil
	}
	var pick *playlist.Rendition
	for i, r := range m.Media {
		if r.Type != playlist.MediaAudio || r.GroupID != v.Audio || r.URI == "" {
			continue
		}
		if pick == nil || (r.Default && !pick.Default) {
			pick = &m.Media[i]
		}
	}
	if pick != nil {
		tracks = append(tracks, pick.URI)
	}
	return tracks, nil
}
