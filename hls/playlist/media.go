package playlist

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Playlist types (EXT-X-PLAYLIST-TYPE).
const (
	TypeEvent = "EVENT"
	TypeVOD   = "VOD"
)

// Preload hint types (EXT-X-PRELOAD-HINT TYPE).
const (
	HintPart = "PART"
	HintMap  = "MAP"
)

// MaxDuration bounds every duration the parser accepts and the writer
// writes (EXTINF, parts, hold backs, EXT-X-START): nothing in a playlist
// lasts longer, and it keeps sums of durations far from overflow.
const MaxDuration = 1000 * time.Hour

// Media is a media playlist (RFC 8216 §4.4.3, §4.4.4 and RFC 8216bis for the
// Low-Latency tags).
//
// The media sequence number of Segments[i] is MediaSequence + Skipped + i:
// a delta update (EXT-X-SKIP) leaves out the oldest Skipped segments but
// keeps EXT-X-MEDIA-SEQUENCE.
type Media struct {
	// Version is EXT-X-VERSION. The writer writes the larger of Version and
	// the minimum the playlist needs (3 for decimal EXTINF, 6 with
	// EXT-X-MAP, 9 with EXT-X-SKIP); 0 means that minimum. The parser
	// returns what the playlist says, 0 when it says nothing.
	Version int
	// TargetDuration is EXT-X-TARGETDURATION, written rounded up to whole
	// seconds. 0 makes the writer compute it as RFC 8216 §4.3.3.1 asks:
	// the longest EXTINF as written, rounded to the nearest second, at
	// least 1.
	TargetDuration time.Duration
	// MediaSequence is EXT-X-MEDIA-SEQUENCE.
	MediaSequence uint64
	// DiscontinuitySequence is EXT-X-DISCONTINUITY-SEQUENCE, written when
	// not 0.
	DiscontinuitySequence uint64
	// Type is EXT-X-PLAYLIST-TYPE: "", TypeEvent or TypeVOD.
	Type string
	// IndependentSegments is EXT-X-INDEPENDENT-SEGMENTS: every segment
	// starts with a keyframe.
	IndependentSegments bool
	// Start is EXT-X-START, nil when absent.
	Start *Start
	// ServerControl is EXT-X-SERVER-CONTROL, nil when absent.
	ServerControl *ServerControl
	// PartTarget is EXT-X-PART-INF's PART-TARGET; 0 when the playlist has
	// no parts.
	PartTarget time.Duration
	// Skipped is EXT-X-SKIP's SKIPPED-SEGMENTS (a delta update), 0 when
	// absent.
	Skipped uint64
	// Segments are the media segments in playlist order.
	Segments []Segment
	// Parts are the parts of the segment in progress, listed after the last
	// segment.
	Parts []Part
	// PreloadHint is EXT-X-PRELOAD-HINT, nil when absent.
	PreloadHint *PreloadHint
	// RenditionReports are the EXT-X-RENDITION-REPORT tags.
	RenditionReports []RenditionReport
	// Ended is EXT-X-ENDLIST.
	Ended bool
}

// Segment is one media segment.
type Segment struct {
	URI      string
	Duration time.Duration // EXTINF
	// Map is the URI of the EXT-X-MAP (init segment) in effect for this
	// segment. The writer writes EXT-X-MAP before the first segment that has
	// one and before every segment whose Map differs from the previous
	// segment's; the parser fills it in on every segment it applies to.
	Map string
	// Discontinuity is EXT-X-DISCONTINUITY before the segment.
	Discontinuity bool
	// DateTime is EXT-X-PROGRAM-DATE-TIME, written (UTC, milliseconds) when
	// not zero.
	DateTime time.Time
	// Gap is EXT-X-GAP: the segment is missing.
	Gap bool
	// Parts are the EXT-X-PART tags of the segment, written before its
	// EXTINF.
	Parts []Part
}

// Part is one partial segment (EXT-X-PART).
type Part struct {
	URI         string
	Duration    time.Duration
	Independent bool // INDEPENDENT=YES: the part starts with a keyframe
	Gap         bool // GAP=YES
}

// Start is EXT-X-START.
type Start struct {
	// TimeOffset is where to start playing: from the beginning of the
	// playlist when positive, from its end when negative.
	TimeOffset time.Duration
	Precise    bool
}

// ServerControl is EXT-X-SERVER-CONTROL. Zero durations are not written.
type ServerControl struct {
	CanBlockReload bool          // CAN-BLOCK-RELOAD=YES
	CanSkipUntil   time.Duration // CAN-SKIP-UNTIL: the skip boundary
	HoldBack       time.Duration // HOLD-BACK
	PartHoldBack   time.Duration // PART-HOLD-BACK
}

// PreloadHint is EXT-X-PRELOAD-HINT.
type PreloadHint struct {
	Type string // HintPart or HintMap; "" is written as HintPart
	URI  string
}

// RenditionReport is EXT-X-RENDITION-REPORT.
type RenditionReport struct {
	URI     string
	LastMSN uint64
	// LastPart is LAST-PART; -1 leaves it out (a rendition without parts).
	LastPart int
}

// errEmptyURI is returned for a URI that is empty.
var errEmptyURI = errors.New("empty URI")

// Marshal returns the playlist's bytes.
func (m *Media) Marshal() ([]byte, error) {
	return m.Append(make([]byte, 0, m.sizeHint()))
}

// WriteTo writes the playlist to w.
func (m *Media) WriteTo(w io.Writer) (int64, error) {
	b, err := m.Marshal()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

func (m *Media) sizeHint() int {
	n := 256 + 120*len(m.RenditionReports) + 80*len(m.Parts)
	for i := range m.Segments {
		n += 100 + len(m.Segments[i].URI) + 60*len(m.Segments[i].Parts)
	}
	return n
}

// Append appends the playlist to b. On error it returns b unchanged and an
// error that names the segment or tag that cannot be written: an empty
// URI, one with a line break (or, where it is quoted, a double quote), a
// negative or too long duration, an unknown playlist or hint type.
func (m *Media) Append(b []byte) ([]byte, error) {
	orig := len(b)
	b, err := m.appendTo(b)
	if err != nil {
		return b[:orig], err
	}
	return b, nil
}

func (m *Media) appendTo(b []byte) ([]byte, error) {
	if m.Type != "" && m.Type != TypeEvent && m.Type != TypeVOD {
		return b, fmt.Errorf("playlist type %q is neither EVENT nor VOD", m.Type)
	}
	version := 3 // decimal EXTINF
	for i := range m.Segments {
		if m.Segments[i].Map != "" {
			version = 6 // EXT-X-MAP in a media playlist without I-frames only
			break
		}
	}
	if m.PreloadHint != nil && m.PreloadHint.Type == HintMap {
		version = max(version, 6)
	}
	if m.Skipped > 0 {
		version = 9 // EXT-X-SKIP (RFC 8216bis §8)
	}
	version = max(version, m.Version)

	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = appendUint(b, uint64(version))
	b = append(b, '\n')
	if m.IndependentSegments {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	if m.Type != "" {
		b = append(b, "#EXT-X-PLAYLIST-TYPE:"...)
		b = append(b, m.Type...)
		b = append(b, '\n')
	}
	target, err := m.targetSeconds()
	if err != nil {
		return b, err
	}
	b = append(b, "#EXT-X-TARGETDURATION:"...)
	b = appendUint(b, target)
	b = append(b, '\n')
	if sc := m.ServerControl; sc != nil {
		if b, err = sc.appendTo(b); err != nil {
			return b, err
		}
	}
	if m.PartTarget >= ms/2 {
		if err := checkDuration("PART-TARGET", m.PartTarget); err != nil {
			return b, err
		}
		b = append(b, "#EXT-X-PART-INF:PART-TARGET="...)
		b = appendSeconds(b, m.PartTarget)
		b = append(b, '\n')
	}
	b = append(b, "#EXT-X-MEDIA-SEQUENCE:"...)
	b = appendUint(b, m.MediaSequence)
	b = append(b, '\n')
	if m.DiscontinuitySequence != 0 {
		b = append(b, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		b = appendUint(b, m.DiscontinuitySequence)
		b = append(b, '\n')
	}
	if s := m.Start; s != nil {
		if s.TimeOffset < -MaxDuration || s.TimeOffset > MaxDuration {
			return b, fmt.Errorf("EXT-X-START TIME-OFFSET %s is out of range", s.TimeOffset)
		}
		b = append(b, "#EXT-X-START:TIME-OFFSET="...)
		b = appendSeconds(b, s.TimeOffset)
		if s.Precise {
			b = append(b, ",PRECISE=YES"...)
		}
		b = append(b, '\n')
	}
	if m.Skipped > 0 {
		b = append(b, "#EXT-X-SKIP:SKIPPED-SEGMENTS="...)
		b = appendUint(b, m.Skipped)
		b = append(b, '\n')
	}
	prevMap := ""
	for i := range m.Segments {
		s := &m.Segments[i]
		if s.Discontinuity {
			b = append(b, "#EXT-X-DISCONTINUITY\n"...)
		}
		if s.Map != "" && s.Map != prevMap {
			if err := checkQuoted(s.Map); err != nil {
				return b, fmt.Errorf("segment %q: EXT-X-MAP URI: %w", s.URI, err)
			}
			b = append(b, "#EXT-X-MAP:URI=\""...)
			b = append(b, s.Map...)
			b = append(b, "\"\n"...)
			prevMap = s.Map
		}
		if !s.DateTime.IsZero() {
			if y := s.DateTime.UTC().Year(); y < 1 || y > 9999 {
				return b, fmt.Errorf("segment %q: program date-time %s is out of range", s.URI, s.DateTime)
			}
			b = append(b, "#EXT-X-PROGRAM-DATE-TIME:"...)
			b = appendDateTime(b, s.DateTime)
			b = append(b, '\n')
		}
		if s.Gap {
			b = append(b, "#EXT-X-GAP\n"...)
		}
		for j := range s.Parts {
			if b, err = s.Parts[j].appendTo(b); err != nil {
				return b, fmt.Errorf("segment %q: %w", s.URI, err)
			}
		}
		if err := checkLine(s.URI); err != nil {
			return b, fmt.Errorf("segment %d of the playlist: URI %q: %w", i, s.URI, err)
		}
		if err := checkDuration("EXTINF", s.Duration); err != nil {
			return b, fmt.Errorf("segment %q: %w", s.URI, err)
		}
		b = append(b, "#EXTINF:"...)
		b = appendSeconds(b, s.Duration)
		b = append(b, ",\n"...)
		b = append(b, s.URI...)
		b = append(b, '\n')
	}
	for j := range m.Parts {
		if b, err = m.Parts[j].appendTo(b); err != nil {
			return b, err
		}
	}
	if h := m.PreloadHint; h != nil {
		typ := h.Type
		if typ == "" {
			typ = HintPart
		}
		if typ != HintPart && typ != HintMap {
			return b, fmt.Errorf("EXT-X-PRELOAD-HINT type %q is neither PART nor MAP", typ)
		}
		if err := checkQuoted(h.URI); err != nil {
			return b, fmt.Errorf("EXT-X-PRELOAD-HINT URI %q: %w", h.URI, err)
		}
		b = append(b, "#EXT-X-PRELOAD-HINT:TYPE="...)
		b = append(b, typ...)
		b = append(b, ",URI=\""...)
		b = append(b, h.URI...)
		b = append(b, "\"\n"...)
	}
	for i := range m.RenditionReports {
		r := &m.RenditionReports[i]
		if err := checkQuoted(r.URI); err != nil {
			return b, fmt.Errorf("EXT-X-RENDITION-REPORT URI %q: %w", r.URI, err)
		}
		b = append(b, "#EXT-X-RENDITION-REPORT:URI=\""...)
		b = append(b, r.URI...)
		b = append(b, "\",LAST-MSN="...)
		b = appendUint(b, r.LastMSN)
		if r.LastPart >= 0 {
			b = append(b, ",LAST-PART="...)
			b = appendUint(b, uint64(r.LastPart))
		}
		b = append(b, '\n')
	}
	if m.Ended {
		b = append(b, "#EXT-X-ENDLIST\n"...)
	}
	return b, nil
}

// targetSeconds is EXT-X-TARGETDURATION's value.
func (m *Media) targetSeconds() (uint64, error) {
	if m.TargetDuration < 0 || m.TargetDuration > MaxDuration {
		return 0, fmt.Errorf("target duration %s is out of range", m.TargetDuration)
	}
	if m.TargetDuration > 0 {
		return uint64((m.TargetDuration + time.Second - 1) / time.Second), nil
	}
	target := uint64(1)
	for i := range m.Segments {
		if t := RoundSeconds(m.Segments[i].Duration.Round(time.Millisecond)); t > target {
			target = t
		}
	}
	return target, nil
}

// RoundSeconds rounds d to the nearest whole second, half up, as RFC 8216
// §4.3.3.1 compares an EXTINF to the target duration. d must not be negative.
func RoundSeconds(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64((d + time.Second/2) / time.Second)
}

func (sc *ServerControl) appendTo(b []byte) ([]byte, error) {
	for _, d := range [...]struct {
		name string
		d    time.Duration
	}{{"CAN-SKIP-UNTIL", sc.CanSkipUntil}, {"HOLD-BACK", sc.HoldBack}, {"PART-HOLD-BACK", sc.PartHoldBack}} {
		if err := checkDuration(d.name, d.d); err != nil {
			return b, fmt.Errorf("EXT-X-SERVER-CONTROL: %w", err)
		}
	}
	// A duration is written when it is not 0 as written (milliseconds).
	if !sc.CanBlockReload && sc.CanSkipUntil < ms/2 && sc.HoldBack < ms/2 && sc.PartHoldBack < ms/2 {
		return b, nil
	}
	b = append(b, "#EXT-X-SERVER-CONTROL:"...)
	sep := false
	if sc.CanBlockReload {
		b = append(b, "CAN-BLOCK-RELOAD=YES"...)
		sep = true
	}
	b, sep = appendDurationAttr(b, sep, "CAN-SKIP-UNTIL=", sc.CanSkipUntil)
	b, sep = appendDurationAttr(b, sep, "HOLD-BACK=", sc.HoldBack)
	b, _ = appendDurationAttr(b, sep, "PART-HOLD-BACK=", sc.PartHoldBack)
	return append(b, '\n'), nil
}

func appendDurationAttr(b []byte, sep bool, name string, d time.Duration) ([]byte, bool) {
	if d < ms/2 {
		return b, sep
	}
	if sep {
		b = append(b, ',')
	}
	b = append(b, name...)
	return appendSeconds(b, d), true
}

func (p *Part) appendTo(b []byte) ([]byte, error) {
	if err := checkQuoted(p.URI); err != nil {
		return b, fmt.Errorf("EXT-X-PART URI %q: %w", p.URI, err)
	}
	if err := checkDuration("EXT-X-PART DURATION", p.Duration); err != nil {
		return b, fmt.Errorf("part %q: %w", p.URI, err)
	}
	b = append(b, "#EXT-X-PART:DURATION="...)
	b = appendSeconds(b, p.Duration)
	b = append(b, ",URI=\""...)
	b = append(b, p.URI...)
	b = append(b, '"')
	if p.Independent {
		b = append(b, ",INDEPENDENT=YES"...)
	}
	if p.Gap {
		b = append(b, ",GAP=YES"...)
	}
	return append(b, '\n'), nil
}

func checkDuration(what string, d time.Duration) error {
	if d < 0 || d > MaxDuration {
		return fmt.Errorf("%s %s is out of range [0, %s]", what, d, MaxDuration)
	}
	return nil
}

// checkLine accepts a URI written on a line of its own.
func checkLine(uri string) error {
	switch {
	case uri == "":
		return errEmptyURI
	case uri[0] == '#':
		return errors.New("a URI line cannot start with #")
	case strings.ContainsAny(uri, "\r\n"):
		return errors.New("line break in URI")
	case strings.TrimSpace(uri) != uri:
		return errors.New("leading or trailing white space in URI")
	}
	return nil
}

// checkQuoted accepts a URI written as a quoted-string attribute (RFC 8216
// §4.2).
func checkQuoted(uri string) error {
	switch {
	case uri == "":
		return errEmptyURI
	case strings.ContainsAny(uri, "\"\r\n"):
		return errors.New("a quoted URI cannot hold a double quote or a line break")
	}
	return nil
}

const ms = time.Millisecond

// appendSeconds appends d in seconds with three decimals, rounded to the
// millisecond, with no float formatting.
func appendSeconds(b []byte, d time.Duration) []byte {
	ms := d.Round(time.Millisecond).Milliseconds()
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	b = appendUint(b, uint64(ms/1000))
	frac := ms % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendDateTime appends t as an EXT-X-PROGRAM-DATE-TIME value.
func appendDateTime(b []byte, t time.Time) []byte {
	return t.UTC().Round(time.Millisecond).AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
}

func appendUint(b []byte, n uint64) []byte {
	if n < 10 {
		return append(b, byte('0'+n))
	}
	var buf [20]byte
	i := len(buf)
	for n >= 10 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	buf[i] = byte('0' + n)
	return append(b, buf[i:]...)
}
