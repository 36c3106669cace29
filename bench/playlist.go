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
	mediaSequence  uint64
	mapURI         string // EXT-X-MAP URI; empty when the playlist has none
	segments       []segment
	endList        bool
}

type segment struct {
	uri      string
	duration time.Duration
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
			p.segments = append(p.segments, segment{uri: line, duration: pending})
			havePending = false
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
	if uint64(len(p.segments)) > math.MaxInt64-p.mediaSequence {
		return nil, errors.New("EXT-X-MEDIA-SEQUENCE overflows")
	}
	return &p, nil
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
