package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// mediaPlaylist is the part of an HLS media playlist (RFC 8216 §4.3) that a
// live player needs. The parser is hand-written rather than grafov/m3u8 because
// the load tool shares the machine with the server under test: 1,500 viewers
// reload about once a second, and a line scan that keeps only these fields costs
// a fraction of a general decoder.
type mediaPlaylist struct {
	targetDuration time.Duration
	// mediaSequence is the sequence number of segments[0]: EXT-X-MEDIA-SEQUENCE
	// plus the segments a delta update skipped (EXT-X-SKIP).
	mediaSequence uint64
	mapURI        string // EXT-X-MAP URI; empty when the playlist has none
	segments      []segment
	endList       bool

	// Low-Latency HLS (RFC 8216bis §4.4.3.7–4.4.5.3); zero in a classic playlist.

	partTarget     time.Duration // EXT-X-PART-INF PART-TARGET
	canBlockReload bool          // EXT-X-SERVER-CONTROL CAN-BLOCK-RELOAD=YES
	partHoldBack   time.Duration // EXT-X-SERVER-CONTROL PART-HOLD-BACK
	canSkipUntil   time.Duration // EXT-X-SERVER-CONTROL CAN-SKIP-UNTIL
	skipped        uint64        // EXT-X-SKIP SKIPPED-SEGMENTS (already in mediaSequence)
	// trailing are the parts after the last complete segment: the first
	// parts of segment lastSeq()+1, still being written.
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

// lastSeq is the media sequence number of the last segment; ok is false when
// the playlist has no segment yet.
func (p *mediaPlaylist) lastSeq() (seq uint64, ok bool) {
	if len(p.segments) == 0 {
		return 0, false
	}
	return p.mediaSequence + uint64(len(p.segments)) - 1, true
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

// parseMediaPlaylist reads a media playlist. It refuses what a viewer of salon
// cannot play: a multivariant playlist (the user gave the wrong URL), byte-range
// segments, and a playlist without EXT-X-TARGETDURATION.
func parseMediaPlaylist(b []byte) (*mediaPlaylist, error) {
	var p mediaPlaylist
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	haveTarget := false
	var pending time.Duration
	havePending := false
	pendingGap := false
	var parts []part
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, errors.New("not an HLS playlist: the first line is not #EXTM3U")
			}
			first = false
			continue
		}
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			if !havePending {
				return nil, fmt.Errorf("segment %q has no #EXTINF before it", line)
			}
			p.segments = append(p.segments, segment{uri: line, duration: pending, gap: pendingGap, parts: parts})
			havePending, pendingGap, parts = false, false, nil
			continue
		}
		tag, value, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXT-X-TARGETDURATION":
			n, err := strconv.ParseUint(value, 10, 32)
			if err != nil || n == 0 || time.Duration(n)*time.Second > maxTargetDuration {
				return nil, fmt.Errorf("bad EXT-X-TARGETDURATION %q", value)
			}
			p.targetDuration = time.Duration(n) * time.Second
			haveTarget = true
		case "#EXT-X-MEDIA-SEQUENCE":
			n, err := strconv.ParseUint(value, 10, 63)
			if err != nil {
				return nil, fmt.Errorf("bad EXT-X-MEDIA-SEQUENCE %q", value)
			}
			p.mediaSequence = n
		case "#EXT-X-MAP":
			uri, ok := attrString(value, "URI")
			if !ok || uri == "" {
				return nil, fmt.Errorf("EXT-X-MAP without URI: %q", value)
			}
			p.mapURI = uri
		case "#EXTINF":
			durStr, _, _ := strings.Cut(value, ",")
			f, err := strconv.ParseFloat(strings.TrimSpace(durStr), 64)
			if err != nil || f < 0 || math.IsNaN(f) || f > maxTargetDuration.Seconds() {
				return nil, fmt.Errorf("bad EXTINF %q", value)
			}
			pending = time.Duration(f * float64(time.Second))
			havePending = true
		case "#EXT-X-ENDLIST":
			p.endList = true
		case "#EXT-X-GAP":
			pendingGap = true
		case "#EXT-X-PART":
			pt, err := parsePart(value)
			if err != nil {
				return nil, err
			}
			parts = append(parts, pt)
		case "#EXT-X-PART-INF":
			d, err := attrSeconds(value, "PART-TARGET", true)
			if err != nil || d == 0 {
				return nil, fmt.Errorf("bad EXT-X-PART-INF %q", value)
			}
			p.partTarget = d
		case "#EXT-X-SERVER-CONTROL":
			v, _ := attrString(value, "CAN-BLOCK-RELOAD")
			p.canBlockReload = v == "YES"
			var err1, err2 error
			p.partHoldBack, err1 = attrSeconds(value, "PART-HOLD-BACK", false)
			p.canSkipUntil, err2 = attrSeconds(value, "CAN-SKIP-UNTIL", false)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("bad EXT-X-SERVER-CONTROL %q: %w", value, err)
			}
		case "#EXT-X-SKIP":
			v, _ := attrString(value, "SKIPPED-SEGMENTS")
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || len(p.segments) > 0 || p.skipped > 0 {
				return nil, fmt.Errorf("bad EXT-X-SKIP %q (it must come once, before the first segment)", value)
			}
			p.skipped = n
		case "#EXT-X-PRELOAD-HINT":
			typ, _ := attrString(value, "TYPE")
			uri, _ := attrString(value, "URI")
			_, ranged := attrString(value, "BYTERANGE-START")
			if typ == "PART" && uri != "" && !ranged {
				p.preloadHint = uri
			}
		case "#EXT-X-BYTERANGE":
			return nil, errors.New("byte-range segments are not supported by this load tool")
		case "#EXT-X-STREAM-INF":
			return nil, errors.New("this is a multivariant playlist: give the media playlist URL (…/live/{stage}/index.m3u8)")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read playlist: %w", err)
	}
	if first {
		return nil, errors.New("empty playlist")
	}
	if !haveTarget {
		return nil, errors.New("media playlist has no EXT-X-TARGETDURATION")
	}
	if p.skipped > math.MaxInt64-p.mediaSequence {
		return nil, errors.New("EXT-X-MEDIA-SEQUENCE + EXT-X-SKIP overflows")
	}
	p.mediaSequence += p.skipped
	if uint64(len(p.segments)) >= math.MaxInt64-p.mediaSequence {
		return nil, errors.New("EXT-X-MEDIA-SEQUENCE overflows")
	}
	if havePending {
		return nil, errors.New("#EXTINF without a segment URI after it")
	}
	p.trailing = parts
	return &p, nil
}

// parsePart reads the attributes of EXT-X-PART.
func parsePart(list string) (part, error) {
	uri, _ := attrString(list, "URI")
	if uri == "" {
		return part{}, fmt.Errorf("EXT-X-PART without URI: %q", list)
	}
	if _, ok := attrString(list, "BYTERANGE"); ok {
		return part{}, errors.New("byte-range parts are not supported by this load tool")
	}
	d, err := attrSeconds(list, "DURATION", true)
	if err != nil {
		return part{}, fmt.Errorf("bad EXT-X-PART %q: %w", list, err)
	}
	ind, _ := attrString(list, "INDEPENDENT")
	return part{uri: uri, duration: d, independent: ind == "YES"}, nil
}

// attrSeconds reads a decimal-floating-point attribute in seconds; a missing
// one is 0, or an error when required.
func attrSeconds(list, name string, required bool) (time.Duration, error) {
	v, ok := attrString(list, name)
	if !ok {
		if required {
			return 0, fmt.Errorf("no %s", name)
		}
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f > maxTargetDuration.Seconds() {
		return 0, fmt.Errorf("bad %s %q", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// attrString returns the quoted-string attribute name from an attribute list
// (RFC 8216 §4.2), e.g. URI="init.mp4",BYTERANGE="…".
func attrString(list, name string) (string, bool) {
	for list != "" {
		key, rest, ok := strings.Cut(list, "=")
		if !ok {
			return "", false
		}
		key = strings.TrimSpace(key)
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return "", false
			}
			val = rest[1 : 1+end]
			rest = strings.TrimPrefix(rest[2+end:], ",")
		} else {
			val, rest, _ = strings.Cut(rest, ",")
		}
		if key == name {
			return val, true
		}
		list = rest
	}
	return "", false
}

// isMultivariant reports whether b is a multivariant playlist (it lists
// variant streams rather than segments).
func isMultivariant(b []byte) bool {
	return bytes.Contains(b, []byte("#EXT-X-STREAM-INF:"))
}

// tracksOf reads a multivariant playlist and returns what a player of its
// first variant loads: the variant's media playlist and, when the variant's
// AUDIO group has a rendition with its own URI (MediaMTX puts audio in a
// separate playlist), the default one of that group. URIs are as written.
func tracksOf(b []byte) ([]string, error) {
	type rendition struct {
		uri string
		def bool
	}
	audio := map[string][]rendition{}
	addMedia := func(list string) {
		typ, _ := attrString(list, "TYPE")
		g, _ := attrString(list, "GROUP-ID")
		uri, _ := attrString(list, "URI")
		def, _ := attrString(list, "DEFAULT")
		if typ == "AUDIO" && uri != "" {
			audio[g] = append(audio[g], rendition{uri: uri, def: def == "YES"})
		}
	}
	var variant, group string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	inStream := false
	for variant == "" && sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-MEDIA:"):
			addMedia(strings.TrimPrefix(line, "#EXT-X-MEDIA:"))
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			inStream = true
			group, _ = attrString(strings.TrimPrefix(line, "#EXT-X-STREAM-INF:"), "AUDIO")
		case strings.HasPrefix(line, "#"):
		case inStream:
			variant = line
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read multivariant playlist: %w", err)
	}
	if variant == "" {
		return nil, errors.New("multivariant playlist without a variant URI")
	}
	// Renditions may follow the variant in the file; read the rest for them.
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if list, ok := strings.CutPrefix(line, "#EXT-X-MEDIA:"); ok {
			addMedia(list)
		}
	}
	tracks := []string{variant}
	if rs := audio[group]; group != "" && len(rs) > 0 {
		pick := rs[0]
		for _, r := range rs {
			if r.def {
				pick = r
				break
			}
		}
		tracks = append(tracks, pick.uri)
	}
	return tracks, nil
}
