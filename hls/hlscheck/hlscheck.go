// Package hlscheck checks HLS media playlists against RFC 8216 and salon's own
// rules, one playlist at a time (CheckMediaPlaylist) or across the reloads of
// a live playlist (Tracker). It is test tooling: it parses untrusted input by
// hand, reports the first problem it finds, and never panics.
package hlscheck

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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
	Segments              []Segment
}

// Segment is one media segment of a playlist.
type Segment struct {
	URI string
	// Seq is the segment's media sequence number.
	Seq uint64
	// DiscontinuitySeq is the discontinuity sequence number the segment belongs to.
	DiscontinuitySeq uint64
	Duration         float64 // EXTINF, seconds
	Title            string
	Discontinuity    bool   // EXT-X-DISCONTINUITY before it
	Map              string // URI of the EXT-X-MAP that applies to it, "" when none
	ProgramDateTime  time.Time
}

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
// playlist rules) and salon's rules: EXT-X-PROGRAM-DATE-TIME on every segment
// and EXT-X-MAP before fMP4 segments.
func CheckMediaPlaylist(body []byte) (*Playlist, error) {
	if !bytes.HasPrefix(body, []byte("#EXTM3U")) {
		return nil, errors.New("the playlist does not start with #EXTM3U (RFC 8216 §4.3.1.1)")
	}
	lines := strings.Split(string(body), "\n")
	if first := strings.TrimSuffix(lines[0], "\r"); first != "#EXTM3U" {
		return nil, fmt.Errorf("line 1: %q: #EXTM3U must be alone on the first line", first)
	}
	p := &Playlist{}
	seen := map[string]bool{}
	var (
		cur         *Segment // tags collected for the next URI
		haveInf     bool
		curMap      string
		sawSegment  bool
		uris        = map[string]bool{}
		lastPDT     time.Time
		discCounter uint64
	)
	once := func(tag string) error {
		if seen[tag] {
			return fmt.Errorf("%s appears twice", tag)
		}
		seen[tag] = true
		if sawSegment {
			return fmt.Errorf("%s after the first segment: playlist tags go before segments", tag)
		}
		return nil
	}
	newSeg := func() {
		if cur == nil {
			cur = &Segment{}
		}
	}
	for i, raw := range lines[1:] {
		ln := i + 2
		line := strings.TrimSuffix(raw, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if p.EndList {
			return nil, fmt.Errorf("line %d: %q after #EXT-X-ENDLIST", ln, line)
		}
		if !strings.HasPrefix(line, "#") {
			if !haveInf {
				return nil, fmt.Errorf("line %d: segment %q has no #EXTINF", ln, line)
			}
			if uris[line] {
				return nil, fmt.Errorf("line %d: segment %q listed twice", ln, line)
			}
			uris[line] = true
			cur.URI = line
			cur.Seq = p.MediaSequence + uint64(len(p.Segments))
			if cur.Discontinuity {
				discCounter++
			}
			cur.DiscontinuitySeq = p.DiscontinuitySequence + discCounter
			cur.Map = curMap
			if isFMP4(line) && curMap == "" {
				return nil, fmt.Errorf("line %d: fMP4 segment %q has no #EXT-X-MAP before it (RFC 8216 §4.3.2.5)", ln, line)
			}
			if cur.ProgramDateTime.IsZero() {
				return nil, fmt.Errorf("line %d: segment %q has no #EXT-X-PROGRAM-DATE-TIME", ln, line)
			}
			if cur.ProgramDateTime.Before(lastPDT) {
				return nil, fmt.Errorf("line %d: segment %q starts at %s, before the previous segment (%s)",
					ln, line, cur.ProgramDateTime.Format(time.RFC3339Nano), lastPDT.Format(time.RFC3339Nano))
			}
			lastPDT = cur.ProgramDateTime
			p.Segments = append(p.Segments, *cur)
			cur, haveInf, sawSegment = nil, false, true
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue // comment
		}
		tag, value, _ := strings.Cut(line, ":")
		var err error
		switch tag {
		case "#EXTM3U":
			err = errors.New("#EXTM3U repeated")
		case "#EXT-X-VERSION":
			if err = once(tag); err == nil {
				p.Version, err = parseInt(value, 1, 100)
			}
		case "#EXT-X-TARGETDURATION":
			if err = once(tag); err == nil {
				p.TargetDuration, err = parseInt(value, 0, 1<<31-1)
			}
		case "#EXT-X-MEDIA-SEQUENCE":
			if err = once(tag); err == nil {
				p.MediaSequence, err = strconv.ParseUint(value, 10, 64)
			}
		case "#EXT-X-DISCONTINUITY-SEQUENCE":
			if err = once(tag); err == nil {
				p.DiscontinuitySequence, err = strconv.ParseUint(value, 10, 64)
			}
		case "#EXT-X-PLAYLIST-TYPE":
			if err = once(tag); err == nil && value != "EVENT" && value != "VOD" {
				err = fmt.Errorf("playlist type %q is neither EVENT nor VOD", value)
			}
			p.PlaylistType = value
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			p.IndependentSegments = true
		case "#EXT-X-ENDLIST":
			if haveInf || cur != nil {
				err = errors.New("#EXT-X-ENDLIST between a segment's tags and its URI")
			}
			p.EndList = true
		case "#EXTINF":
			if haveInf {
				err = errors.New("two #EXTINF for one segment")
				break
			}
			newSeg()
			durStr, title, _ := strings.Cut(value, ",")
			var d float64
			d, err = strconv.ParseFloat(durStr, 64)
			if err == nil && (d < 0 || math.IsNaN(d) || math.IsInf(d, 0) || strings.ContainsAny(durStr, "eEx+-")) {
				err = fmt.Errorf("EXTINF %q is not a decimal-floating-point duration", durStr)
			}
			cur.Duration, cur.Title = d, title
			haveInf = true
		case "#EXT-X-DISCONTINUITY":
			newSeg()
			if cur.Discontinuity {
				err = errors.New("two #EXT-X-DISCONTINUITY for one segment")
			}
			cur.Discontinuity = true
		case "#EXT-X-MAP":
			var attrs map[string]string
			attrs, err = parseAttrs(value)
			if err == nil {
				curMap = attrs["URI"]
				if curMap == "" {
					err = errors.New("#EXT-X-MAP without URI")
				}
			}
		case "#EXT-X-PROGRAM-DATE-TIME":
			newSeg()
			cur.ProgramDateTime, err = time.Parse(time.RFC3339Nano, value)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: %w", ln, truncate(line), err)
		}
	}
	if cur != nil || haveInf {
		return nil, errors.New("the playlist ends with segment tags but no segment URI")
	}
	if !seen["#EXT-X-TARGETDURATION"] {
		return nil, errors.New("#EXT-X-TARGETDURATION is missing (RFC 8216 §4.3.3.1)")
	}
	if p.Version < 6 && len(p.MapURIs()) > 0 {
		return nil, fmt.Errorf("EXT-X-MAP needs EXT-X-VERSION 6 or more, the playlist says %d (RFC 8216 §7)", p.Version)
	}
	for _, s := range p.Segments {
		if r := int(math.Floor(s.Duration + 0.5)); r > p.TargetDuration {
			return nil, fmt.Errorf("segment %q lasts %.3fs, longer than the target duration %ds (RFC 8216 §4.3.3.1)",
				s.URI, s.Duration, p.TargetDuration)
		}
	}
	return p, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal integer", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

// parseAttrs parses an attribute list (RFC 8216 §4.2).
func parseAttrs(s string) (map[string]string, error) {
	out := map[string]string{}
	for s != "" {
		name, rest, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("attribute list %q: missing =", truncate(s))
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("attribute %s: unterminated quoted string", name)
			}
			val, rest = rest[1:end+1], rest[end+2:]
		} else {
			val, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
			if rest == "," {
				rest = ""
			}
		}
		if rest != "" {
			if !strings.HasPrefix(rest, ",") {
				return nil, fmt.Errorf("attribute %s: expected , after the value", name)
			}
			rest = rest[1:]
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("attribute %s given twice", name)
		}
		out[name] = val
		s = rest
	}
	return out, nil
}
