package playlist

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Rendition types (EXT-X-MEDIA TYPE).
const (
	MediaAudio          = "AUDIO"
	MediaVideo          = "VIDEO"
	MediaSubtitles      = "SUBTITLES"
	MediaClosedCaptions = "CLOSED-CAPTIONS"
)

// Multivariant is a multivariant (master) playlist: the variants of one
// stream, and alternative renditions such as subtitles.
type Multivariant struct {
	// Version is EXT-X-VERSION, written when it is more than 1 (no tag this
	// model writes needs more).
	Version             int
	IndependentSegments bool
	Media               []Rendition // EXT-X-MEDIA, written first
	Variants            []Variant   // EXT-X-STREAM-INF and its URI
}

// Variant is one EXT-X-STREAM-INF and the URI of its media playlist.
// Zero numbers and empty strings are not written.
type Variant struct {
	URI              string
	Bandwidth        int // bits per second, peak; required
	AverageBandwidth int
	Codecs           []string // RFC 6381 codec strings ("avc1.64001f", "mp4a.40.2")
	Width, Height    int      // RESOLUTION
	FrameRate        float64  // written with three decimals
	Audio            string   // GROUP-ID of the AUDIO renditions
	Subtitles        string   // GROUP-ID of the SUBTITLES renditions
}

// Rendition is one EXT-X-MEDIA tag.
type Rendition struct {
	Type       string // MediaAudio, MediaVideo, MediaSubtitles, MediaClosedCaptions
	GroupID    string
	Name       string // what a person picks ("中文")
	Language   string // BCP 47
	URI        string // the rendition's media playlist; empty for CLOSED-CAPTIONS
	Default    bool
	AutoSelect bool
	Forced     bool // SUBTITLES only
}

// Marshal returns the playlist's bytes.
func (m *Multivariant) Marshal() ([]byte, error) {
	return m.Append(make([]byte, 0, 128+160*(len(m.Variants)+len(m.Media))))
}

// WriteTo writes the playlist to w.
func (m *Multivariant) WriteTo(w io.Writer) (int64, error) {
	b, err := m.Marshal()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// Append appends the playlist to b; on error it returns b unchanged.
func (m *Multivariant) Append(b []byte) ([]byte, error) {
	orig := len(b)
	b, err := m.appendTo(b)
	if err != nil {
		return b[:orig], err
	}
	return b, nil
}

func (m *Multivariant) appendTo(b []byte) ([]byte, error) {
	if len(m.Variants) == 0 {
		return b, errors.New("a multivariant playlist needs at least one variant")
	}
	b = append(b, "#EXTM3U\n"...)
	if m.Version > 1 {
		b = append(b, "#EXT-X-VERSION:"...)
		b = appendUint(b, uint64(m.Version))
		b = append(b, '\n')
	}
	if m.IndependentSegments {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	for i := range m.Media {
		r := &m.Media[i]
		switch r.Type {
		case MediaAudio, MediaVideo, MediaSubtitles, MediaClosedCaptions:
		default:
			return b, fmt.Errorf("EXT-X-MEDIA TYPE %q is not AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS", r.Type)
		}
		for _, q := range [...]struct{ name, v string }{{"GROUP-ID", r.GroupID}, {"NAME", r.Name}} {
			if q.v == "" {
				return b, fmt.Errorf("EXT-X-MEDIA without %s", q.name)
			}
			if err := checkQuoted(q.v); err != nil {
				return b, fmt.Errorf("EXT-X-MEDIA %s %q: %w", q.name, q.v, err)
			}
		}
		b = append(b, "#EXT-X-MEDIA:TYPE="...)
		b = append(b, r.Type...)
		b = appendQuotedAttr(b, ",GROUP-ID=", r.GroupID)
		b = appendQuotedAttr(b, ",NAME=", r.Name)
		if r.Language != "" {
			if err := checkQuoted(r.Language); err != nil {
				return b, fmt.Errorf("EXT-X-MEDIA LANGUAGE %q: %w", r.Language, err)
			}
			b = appendQuotedAttr(b, ",LANGUAGE=", r.Language)
		}
		if r.Default {
			b = append(b, ",DEFAULT=YES"...)
		}
		if r.AutoSelect || r.Default { // DEFAULT=YES needs AUTOSELECT=YES (RFC 8216 §4.3.4.1)
			b = append(b, ",AUTOSELECT=YES"...)
		}
		if r.Forced {
			b = append(b, ",FORCED=YES"...)
		}
		if r.URI != "" {
			if err := checkQuoted(r.URI); err != nil {
				return b, fmt.Errorf("EXT-X-MEDIA URI %q: %w", r.URI, err)
			}
			b = appendQuotedAttr(b, ",URI=", r.URI)
		}
		b = append(b, '\n')
	}
	for i := range m.Variants {
		v := &m.Variants[i]
		if v.Bandwidth <= 0 || v.AverageBandwidth < 0 || v.Width < 0 || v.Height < 0 || (v.Width == 0) != (v.Height == 0) ||
			v.FrameRate < 0 || v.FrameRate > 1000 {
			return b, fmt.Errorf("variant %q: bandwidth, resolution or frame rate out of range", v.URI)
		}
		b = append(b, "#EXT-X-STREAM-INF:BANDWIDTH="...)
		b = appendUint(b, uint64(v.Bandwidth))
		if v.AverageBandwidth > 0 {
			b = append(b, ",AVERAGE-BANDWIDTH="...)
			b = appendUint(b, uint64(v.AverageBandwidth))
		}
		if len(v.Codecs) > 0 {
			b = append(b, ",CODECS=\""...)
			for j, c := range v.Codecs {
				if c == "" || strings.ContainsAny(c, "\",\r\n ") {
					return b, fmt.Errorf("variant %q: codec %q is not an RFC 6381 codec string", v.URI, c)
				}
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, c...)
			}
			b = append(b, '"')
		}
		if v.Width > 0 {
			b = append(b, ",RESOLUTION="...)
			b = appendUint(b, uint64(v.Width))
			b = append(b, 'x')
			b = appendUint(b, uint64(v.Height))
		}
		if v.FrameRate > 0 {
			b = append(b, ",FRAME-RATE="...)
			b = strconv.AppendFloat(b, v.FrameRate, 'f', 3, 64)
		}
		for _, g := range [...]struct{ name, v string }{{",AUDIO=", v.Audio}, {",SUBTITLES=", v.Subtitles}} {
			if g.v == "" {
				continue
			}
			if err := checkQuoted(g.v); err != nil {
				return b, fmt.Errorf("variant %q: group %q: %w", v.URI, g.v, err)
			}
			b = appendQuotedAttr(b, g.name, g.v)
		}
		if err := checkLine(v.URI); err != nil {
			return b, fmt.Errorf("variant %d: URI %q: %w", i, v.URI, err)
		}
		b = append(b, '\n')
		b = append(b, v.URI...)
		b = append(b, '\n')
	}
	return b, nil
}

func appendQuotedAttr(b []byte, name, v string) []byte {
	b = append(b, name...)
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// IsMultivariant reports whether b looks like a multivariant playlist: it
// has an EXT-X-STREAM-INF line before any EXTINF. It does not check the
// rest; a player decides the same way.
func IsMultivariant(b []byte) bool {
	s := string(b)
	for s != "" {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			return true
		case strings.HasPrefix(line, "#EXTINF:"), strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			return false
		}
	}
	return false
}

// ParseMultivariant reads a multivariant playlist, leniently: unknown tags
// and attributes are ignored (EXT-X-I-FRAME-STREAM-INF among them), and it
// fails on a line it cannot read or when no variant is listed.
func ParseMultivariant(b []byte) (*Multivariant, error) {
	s := string(b)
	first, s, _ := strings.Cut(s, "\n")
	if strings.TrimPrefix(strings.TrimSpace(first), "\uFEFF") != "#EXTM3U" {
		return nil, ErrNotPlaylist
	}
	m := &Multivariant{}
	var (
		pending *Variant // EXT-X-STREAM-INF waiting for its URI
		n       = 1
	)
	for s != "" {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		n++
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		fail := func(err error) error { return &ParseError{Line: n, Text: clip(line), Err: err} }
		if strings.IndexByte(line, '\r') >= 0 {
			return nil, fail(errors.New("a carriage return inside a line"))
		}
		if line[0] != '#' {
			if pending == nil {
				return nil, fail(errors.New("a URI with no #EXT-X-STREAM-INF before it"))
			}
			pending.URI = line
			m.Variants = append(m.Variants, *pending)
			pending = nil
			continue
		}
		tag, value, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXT-X-VERSION":
			v, err := strconv.Atoi(value)
			if err != nil || v < 1 || v > 99 {
				return nil, fail(fmt.Errorf("version %q is not an integer in [1, 99]", value))
			}
			m.Version = v
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			m.IndependentSegments = true
		case "#EXT-X-MEDIA":
			r, err := parseRendition(value)
			if err != nil {
				return nil, fail(err)
			}
			m.Media = append(m.Media, r)
		case "#EXT-X-STREAM-INF":
			v, err := parseVariant(value)
			if err != nil {
				return nil, fail(err)
			}
			pending = &v
		case "#EXTINF", "#EXT-X-TARGETDURATION":
			return nil, fail(errors.New("this is a media playlist, not a multivariant playlist"))
		}
	}
	if pending != nil {
		return nil, &ParseError{Err: errors.New("the last #EXT-X-STREAM-INF has no URI")}
	}
	if len(m.Variants) == 0 {
		return nil, &ParseError{Err: errors.New("the multivariant playlist lists no variant (#EXT-X-STREAM-INF)")}
	}
	return m, nil
}

func parseVariant(value string) (Variant, error) {
	var v Variant
	err := eachAttr(value, func(name, val string, _ bool) error {
		var err error
		switch name {
		case "BANDWIDTH":
			v.Bandwidth, err = parseCount(val)
		case "AVERAGE-BANDWIDTH":
			v.AverageBandwidth, err = parseCount(val)
		case "CODECS":
			v.Codecs = nil
			for c := range strings.SplitSeq(val, ",") {
				if c = strings.TrimSpace(c); c != "" {
					v.Codecs = append(v.Codecs, c)
				}
			}
		case "RESOLUTION":
			w, h, ok := strings.Cut(val, "x")
			if v.Width, err = parseCount(w); err == nil && ok {
				v.Height, err = parseCount(h)
			}
			if err == nil && (!ok || (v.Width == 0) != (v.Height == 0)) {
				err = errors.New("expected WIDTHxHEIGHT")
			}
		case "FRAME-RATE":
			var d float64
			d, err = strconv.ParseFloat(val, 64)
			if err != nil || !digitsDot(val) || d > 1000 {
				err = errors.New("not a frame rate")
			}
			v.FrameRate = d
		case "AUDIO":
			v.Audio = val
		case "SUBTITLES":
			v.Subtitles = val
		}
		if err != nil {
			return fmt.Errorf("EXT-X-STREAM-INF %s %q: %w", name, clip(val), err)
		}
		return nil
	})
	if err == nil && v.Bandwidth == 0 {
		err = errors.New("EXT-X-STREAM-INF without BANDWIDTH")
	}
	return v, err
}

func parseRendition(value string) (Rendition, error) {
	var r Rendition
	err := eachAttr(value, func(name, val string, _ bool) error {
		var err error
		switch name {
		case "TYPE":
			switch val {
			case MediaAudio, MediaVideo, MediaSubtitles, MediaClosedCaptions:
				r.Type = val
			default:
				err = errors.New("not AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS")
			}
		case "GROUP-ID":
			r.GroupID = val
		case "NAME":
			r.Name = val
		case "LANGUAGE":
			r.Language = val
		case "URI":
			r.URI = val
		case "DEFAULT":
			r.Default, err = parseYes(val)
		case "AUTOSELECT":
			r.AutoSelect, err = parseYes(val)
		case "FORCED":
			r.Forced, err = parseYes(val)
		}
		if err != nil {
			return fmt.Errorf("EXT-X-MEDIA %s %q: %w", name, clip(val), err)
		}
		return nil
	})
	switch {
	case err != nil:
	case r.Type == "":
		err = errors.New("EXT-X-MEDIA without TYPE")
	case r.GroupID == "" || r.Name == "":
		err = errors.New("EXT-X-MEDIA without GROUP-ID or NAME")
	}
	return r, err
}

// parseCount parses a decimal-integer that fits an int32 (bandwidths,
// pixels).
func parseCount(s string) (int, error) {
	if !digits(s) || s == "" {
		return 0, fmt.Errorf("%q is not a decimal integer", s)
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return int(n), nil
}

func digitsDot(s string) bool {
	ip, fp, _ := strings.Cut(s, ".")
	return ip != "" && digits(ip) && digits(fp)
}
