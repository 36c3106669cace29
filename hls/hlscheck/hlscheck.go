// Package hlscheck checks HLS media playlists against RFC 8216, the
// Low-Latency rules of RFC 8216bis that one playlist can show, and salon's
// own rules, one playlist at a time (CheckMediaPlaylist) or across the
// reloads of a live playlist (Tracker), and multivariant playlists against
// RFC 8216 §4.3.4 (CheckMultivariantPlaylist). It is test tooling: it reads
// playlists with hls/playlist's lenient parser, then refuses what that parser
// tolerated and checks the rules on the result; it reports the first problem
// it finds and never panics.
package hlscheck

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/salon/salon/hls/playlist"
)

// Playlist is a parsed media playlist.
type Playlist struct {
	Version               int
	TargetDuration        int // seconds
	MediaSequence         uint64
	DiscontinuitySequence uint64
	IndependentSegments   bool
	PlaylistType          string // "", "EVENT" or "VOD"
	EndList               bool
	// Skipped is EXT-X-SKIP's SKIPPED-SEGMENTS: Segments[0] has media
	// sequence number MediaSequence + Skipped.
	Skipped  uint64
	Segments []Segment
	// Media is the playlist as hls/playlist reads it, with the
	// Low-Latency tags (parts, preload hint, server control, reports).
	Media *playlist.Media
	// Warnings are what RFC 8216bis recommends (SHOULD) and the playlist
	// does not do; they do not fail the check.
	Warnings []string
}

// Segment is one media segment of a playlist.
type Segment struct {
	URI string
	// Seq is the segment's media sequence number.
	Seq uint64
	// DiscontinuitySeq is the discontinuity sequence number the segment belongs to.
	DiscontinuitySeq uint64
	Duration         float64 // EXTINF, seconds
	Discontinuity    bool    // EXT-X-DISCONTINUITY before it
	Map              string  // URI of the EXT-X-MAP that applies to it, "" when none
	ProgramDateTime  time.Time
	Parts            []playlist.Part // EXT-X-PART of the segment
}

// end is the media sequence number after the last segment.
func (p *Playlist) end() uint64 { return p.MediaSequence + p.Skipped + uint64(len(p.Segments)) }

// URIs returns the segment URIs in playlist order.
func (p *Playlist) URIs() []string {
	out := make([]string, len(p.Segments))
	for i, s := range p.Segments {
		out[i] = s.URI
	}
	return out
}

// MapURIs returns the distinct EXT-X-MAP URIs in playlist order.
func (p *Playlist) MapURIs() []string {
	var out []string
	for _, s := range p.Segments {
		if s.Map != "" && (len(out) == 0 || out[len(out)-1] != s.Map) {
			out = append(out, s.Map)
		}
	}
	return out
}

// Duration is the sum of the segments' EXTINF.
func (p *Playlist) Duration() float64 {
	d := 0.0
	for _, s := range p.Segments {
		d += s.Duration
	}
	return d
}

// fmp4Ext are URI endings of fragmented-MP4 media segments, which need EXT-X-MAP.
var fmp4Ext = []string{".m4s", ".mp4", ".m4v", ".m4a", ".cmfv", ".cmfa"}

func isFMP4(uri string) bool {
	u := uri
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	for _, e := range fmp4Ext {
		if strings.HasSuffix(u, e) {
			return true
		}
	}
	return false
}

// CheckMediaPlaylist parses body and checks it against RFC 8216 (media
// playlist rules), the single-playlist Low-Latency rules of RFC 8216bis
// (checkLowLatency) and salon's rules: EXT-X-PROGRAM-DATE-TIME on every
// segment, never going back, and EXT-X-MAP before fMP4 segments.
func CheckMediaPlaylist(body []byte) (*Playlist, error) {
	m, devs, err := playlist.ParseMediaDeviations(body)
	if err != nil {
		return nil, err
	}
	if len(devs) > 0 {
		return nil, errors.New(devs[0].String())
	}
	p := &Playlist{
		Version:               m.Version,
		TargetDuration:        int(m.TargetDuration / time.Second),
		MediaSequence:         m.MediaSequence,
		DiscontinuitySequence: m.DiscontinuitySequence,
		IndependentSegments:   m.IndependentSegments,
		PlaylistType:          m.Type,
		EndList:               m.Ended,
		Skipped:               m.Skipped,
		Segments:              make([]Segment, 0, len(m.Segments)),
		Media:                 m,
	}
	if m.TargetDuration == 0 {
		return nil, errors.New("#EXT-X-TARGETDURATION is missing (RFC 8216 §4.3.3.1)")
	}
	uris := make(map[string]bool, len(m.Segments))
	var (
		lastPDT time.Time
		disc    uint64
	)
	for i, s := range m.Segments {
		if uris[s.URI] {
			return nil, fmt.Errorf("segment %q listed twice", s.URI)
		}
		uris[s.URI] = true
		if s.Discontinuity {
			disc++
		}
		if isFMP4(s.URI) && s.Map == "" {
			return nil, fmt.Errorf("fMP4 segment %q has no #EXT-X-MAP before it (RFC 8216 §4.3.2.5)", s.URI)
		}
		if s.DateTime.IsZero() {
			return nil, fmt.Errorf("segment %q has no #EXT-X-PROGRAM-DATE-TIME", s.URI)
		}
		if s.DateTime.Before(lastPDT) {
			return nil, fmt.Errorf("segment %q starts at %s, before the previous segment (%s)",
				s.URI, s.DateTime.Format(time.RFC3339Nano), lastPDT.Format(time.RFC3339Nano))
		}
		lastPDT = s.DateTime
		if r := playlist.RoundSeconds(s.Duration); r > uint64(p.TargetDuration) {
			return nil, fmt.Errorf("segment %q lasts %.3fs, longer than the target duration %ds (RFC 8216 §4.3.3.1)",
				s.URI, s.Duration.Seconds(), p.TargetDuration)
		}
		p.Segments = append(p.Segments, Segment{
			URI:              s.URI,
			Seq:              m.MediaSequence + m.Skipped + uint64(i),
			DiscontinuitySeq: m.DiscontinuitySequence + disc,
			Duration:         s.Duration.Seconds(),
			Discontinuity:    s.Discontinuity,
			Map:              s.Map,
			ProgramDateTime:  s.DateTime,
			Parts:            s.Parts,
		})
	}
	if p.Version < 6 && len(p.MapURIs()) > 0 {
		return nil, fmt.Errorf("EXT-X-MAP needs EXT-X-VERSION 6 or more, the playlist says %d (RFC 8216 §7)", p.Version)
	}
	if err := checkLowLatency(p); err != nil {
		return nil, err
	}
	return p, nil
}
