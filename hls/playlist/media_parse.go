package playlist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseError is a line the parser cannot read.
type ParseError struct {
	Line int    // 1-based
	Text string // the line, clipped to 80 bytes
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("line %d: %q: %v", e.Line, e.Text, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Deviation is something ParseMedia accepted although RFC 8216 forbids it:
// a tag that may appear once appearing twice (the last one wins), a playlist
// tag after the first segment, lines after EXT-X-ENDLIST, segment tags with
// no segment URI at the end.
type Deviation struct {
	Line    int
	Text    string
	Problem string
}

func (d Deviation) String() string {
	return fmt.Sprintf("line %d: %q: %s", d.Line, d.Text, d.Problem)
}

// ErrNotPlaylist is returned for data whose first line is not #EXTM3U.
var ErrNotPlaylist = errors.New("not an HLS playlist: the first line is not #EXTM3U (RFC 8216 §4.3.1.1)")

// ParseMedia reads a media playlist, leniently (see the package doc). Its
// result writes back (Media.Append) without error.
func ParseMedia(b []byte) (*Media, error) {
	m, _, err := parseMedia(b, false)
	return m, err
}

// ParseMediaDeviations is ParseMedia that also returns what it tolerated, in
// line order, for strict checkers.
func ParseMediaDeviations(b []byte) (*Media, []Deviation, error) {
	return parseMedia(b, true)
}

// Tags that may appear once per playlist, before the first segment.
const (
	onceVersion = 1 << iota
	onceTarget
	onceSequence
	onceDiscSequence
	onceType
	onceStart
	onceServerControl
	oncePartInf
	onceSkip
	onceIndependent
)

type mediaParser struct {
	m       *Media
	collect bool
	devs    []Deviation
	line    int
	text    string

	seen       int // once* bits
	sawSegment bool
	ended      bool
	cur        Segment // the segment being collected
	pending    bool    // cur has segment tags (other than parts)
	haveInf    bool
	curMap     string
}

func (p *mediaParser) deviate(problem string) {
	if p.collect {
		p.devs = append(p.devs, Deviation{Line: p.line, Text: clip(p.text), Problem: problem})
	}
}

func (p *mediaParser) fail(err error) error {
	return &ParseError{Line: p.line, Text: clip(p.text), Err: err}
}

func parseMedia(b []byte, collect bool) (*Media, []Deviation, error) {
	s := string(b)
	first, s, _ := strings.Cut(s, "\n")
	first = strings.TrimPrefix(strings.TrimSpace(first), "\uFEFF")
	if first != "#EXTM3U" {
		return nil, nil, ErrNotPlaylist
	}
	p := mediaParser{m: &Media{}, collect: collect, line: 1}
	for s != "" {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		p.line++
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p.text = line
		if strings.IndexByte(line, '\r') >= 0 {
			return nil, nil, p.fail(errors.New("a carriage return inside a line"))
		}
		if p.ended {
			p.deviate("after #EXT-X-ENDLIST")
			p.ended = false // one deviation is enough
		}
		if line[0] != '#' {
			if err := p.uri(line); err != nil {
				return nil, nil, err
			}
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue // a comment
		}
		tag, value, _ := strings.Cut(line, ":")
		if err := p.tag(tag, value); err != nil {
			return nil, nil, p.fail(err)
		}
	}
	m := p.m
	if p.pending || p.haveInf {
		p.line, p.text = p.line+1, "(end of playlist)"
		p.deviate("segment tags but no segment URI at the end of the playlist")
	}
	m.Parts = p.cur.Parts
	return m, p.devs, nil
}

func (p *mediaParser) uri(line string) error {
	if !p.haveInf {
		return p.fail(fmt.Errorf("segment %q has no #EXTINF before it", line))
	}
	p.cur.URI = line
	p.cur.Map = p.curMap
	p.m.Segments = append(p.m.Segments, p.cur)
	p.cur, p.pending, p.haveInf, p.sawSegment = Segment{}, false, false, true
	return nil
}

// once notes a playlist tag that may appear once, before the segments.
func (p *mediaParser) once(bit int) {
	if p.seen&bit != 0 {
		p.deviate("the tag appears twice; the last one counts")
	}
	p.seen |= bit
	if p.sawSegment {
		p.deviate("a playlist tag after the first segment: playlist tags go before segments")
	}
}

func (p *mediaParser) tag(tag, value string) error {
	m := p.m
	switch tag {
	case "#EXTM3U":
		p.deviate("#EXTM3U repeated")
	case "#EXT-X-VERSION":
		p.once(onceVersion)
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 99 {
			return fmt.Errorf("version %q is not an integer in [1, 99]", value)
		}
		m.Version = n
	case "#EXT-X-TARGETDURATION":
		p.once(onceTarget)
		d, err := parseSeconds(value, false)
		if err != nil {
			return fmt.Errorf("EXT-X-TARGETDURATION: %w", err)
		}
		if d%time.Second != 0 {
			p.deviate("EXT-X-TARGETDURATION is not a whole number of seconds; read rounded up")
			d = (d + time.Second - 1) / time.Second * time.Second
		}
		m.TargetDuration = d
	case "#EXT-X-MEDIA-SEQUENCE":
		p.once(onceSequence)
		n, err := parseSequence(value)
		if err != nil {
			return fmt.Errorf("EXT-X-MEDIA-SEQUENCE: %w", err)
		}
		m.MediaSequence = n
	case "#EXT-X-DISCONTINUITY-SEQUENCE":
		p.once(onceDiscSequence)
		n, err := parseSequence(value)
		if err != nil {
			return fmt.Errorf("EXT-X-DISCONTINUITY-SEQUENCE: %w", err)
		}
		m.DiscontinuitySequence = n
	case "#EXT-X-PLAYLIST-TYPE":
		p.once(onceType)
		if value != TypeEvent && value != TypeVOD {
			return fmt.Errorf("playlist type %q is neither EVENT nor VOD", value)
		}
		m.Type = value
	case "#EXT-X-INDEPENDENT-SEGMENTS":
		p.once(onceIndependent)
		m.IndependentSegments = true
	case "#EXT-X-START":
		p.once(onceStart)
		return p.start(value)
	case "#EXT-X-SERVER-CONTROL":
		p.once(onceServerControl)
		return p.serverControl(value)
	case "#EXT-X-PART-INF":
		p.once(oncePartInf)
		return eachAttr(value, func(name, v string, _ bool) error {
			if name == "PART-TARGET" {
				d, err := parseSeconds(v, false)
				if err != nil {
					return fmt.Errorf("PART-TARGET: %w", err)
				}
				m.PartTarget = d
			}
			return nil
		})
	case "#EXT-X-SKIP":
		p.once(onceSkip)
		return eachAttr(value, func(name, v string, _ bool) error {
			if name == "SKIPPED-SEGMENTS" {
				n, err := parseSequence(v)
				if err != nil {
					return fmt.Errorf("SKIPPED-SEGMENTS: %w", err)
				}
				m.Skipped = n
			}
			return nil
		})
	case "#EXTINF":
		if p.haveInf {
			p.deviate("two #EXTINF for one segment; the last one counts")
		}
		durStr, _, _ := strings.Cut(value, ",")
		d, err := parseSeconds(strings.TrimSpace(durStr), false)
		if err != nil {
			return fmt.Errorf("EXTINF: %w", err)
		}
		p.cur.Duration, p.haveInf = d, true
	case "#EXT-X-DISCONTINUITY":
		if p.cur.Discontinuity {
			p.deviate("two #EXT-X-DISCONTINUITY for one segment")
		}
		p.cur.Discontinuity, p.pending = true, true
	case "#EXT-X-GAP":
		p.cur.Gap, p.pending = true, true
	case "#EXT-X-PROGRAM-DATE-TIME":
		t, err := parseDateTime(value)
		if err != nil {
			return fmt.Errorf("EXT-X-PROGRAM-DATE-TIME: %w", err)
		}
		p.cur.DateTime, p.pending = t, true
	case "#EXT-X-MAP":
		uri := ""
		err := eachAttr(value, func(name, v string, _ bool) error {
			switch name {
			case "URI":
				uri = v
			case "BYTERANGE":
				return errors.New("EXT-X-MAP with BYTERANGE is not supported: init segments are whole files")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if uri == "" {
			return errors.New("#EXT-X-MAP without URI")
		}
		p.curMap = uri
	case "#EXT-X-PART":
		part, err := parsePart(value)
		if err != nil {
			return err
		}
		p.cur.Parts = append(p.cur.Parts, part)
	case "#EXT-X-PRELOAD-HINT":
		return p.preloadHint(value)
	case "#EXT-X-RENDITION-REPORT":
		return p.renditionReport(value)
	case "#EXT-X-ENDLIST":
		if p.pending || p.haveInf {
			p.deviate("#EXT-X-ENDLIST between a segment's tags and its URI")
		}
		m.Ended, p.ended = true, true
	case "#EXT-X-BYTERANGE":
		return errors.New("byte-range segments are not supported: segments are whole files")
	case "#EXT-X-KEY":
		method := ""
		_ = eachAttr(value, func(name, v string, _ bool) error {
			if name == "METHOD" {
				method = v
			}
			return nil
		})
		if method != "NONE" {
			return errors.New("encrypted segments (EXT-X-KEY) are not supported")
		}
	case "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA":
		return errors.New("this is a multivariant playlist, not a media playlist")
	}
	return nil
}

func (p *mediaParser) start(value string) error {
	st := &Start{}
	have := false
	err := eachAttr(value, func(name, v string, _ bool) error {
		var err error
		switch name {
		case "TIME-OFFSET":
			st.TimeOffset, err = parseSeconds(v, true)
			have = true
		case "PRECISE":
			st.Precise, err = parseYes(v)
		}
		if err != nil {
			return fmt.Errorf("EXT-X-START %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !have {
		return errors.New("EXT-X-START without TIME-OFFSET")
	}
	p.m.Start = st
	return nil
}

func (p *mediaParser) serverControl(value string) error {
	sc := &ServerControl{}
	err := eachAttr(value, func(name, v string, _ bool) error {
		var err error
		switch name {
		case "CAN-BLOCK-RELOAD":
			sc.CanBlockReload, err = parseYes(v)
		case "CAN-SKIP-UNTIL":
			sc.CanSkipUntil, err = parseSeconds(v, false)
		case "HOLD-BACK":
			sc.HoldBack, err = parseSeconds(v, false)
		case "PART-HOLD-BACK":
			sc.PartHoldBack, err = parseSeconds(v, false)
		}
		if err != nil {
			return fmt.Errorf("EXT-X-SERVER-CONTROL %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.m.ServerControl = sc
	return nil
}

func parsePart(value string) (Part, error) {
	var part Part
	haveDur := false
	err := eachAttr(value, func(name, v string, _ bool) error {
		var err error
		switch name {
		case "URI":
			part.URI = v
		case "DURATION":
			part.Duration, err = parseSeconds(v, false)
			haveDur = true
		case "INDEPENDENT":
			part.Independent, err = parseYes(v)
		case "GAP":
			part.Gap, err = parseYes(v)
		case "BYTERANGE":
			err = errors.New("byte-range parts are not supported: parts are whole files")
		}
		if err != nil {
			return fmt.Errorf("EXT-X-PART %s: %w", name, err)
		}
		return nil
	})
	switch {
	case err != nil:
		return part, err
	case part.URI == "":
		return part, errors.New("EXT-X-PART without URI")
	case !haveDur:
		return part, errors.New("EXT-X-PART without DURATION")
	}
	return part, nil
}

func (p *mediaParser) preloadHint(value string) error {
	h := &PreloadHint{}
	err := eachAttr(value, func(name, v string, _ bool) error {
		switch name {
		case "TYPE":
			if v != HintPart && v != HintMap {
				return fmt.Errorf("EXT-X-PRELOAD-HINT TYPE %q is neither PART nor MAP", v)
			}
			h.Type = v
		case "URI":
			h.URI = v
		case "BYTERANGE-START", "BYTERANGE-LENGTH":
			return errors.New("byte-range preload hints are not supported: parts are whole files")
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case h.Type == "":
		return errors.New("EXT-X-PRELOAD-HINT without TYPE")
	case h.URI == "":
		return errors.New("EXT-X-PRELOAD-HINT without URI")
	}
	if p.m.PreloadHint != nil {
		p.deviate("a second EXT-X-PRELOAD-HINT; the last one counts")
	}
	p.m.PreloadHint = h
	return nil
}

func (p *mediaParser) renditionReport(value string) error {
	r := RenditionReport{LastPart: -1}
	haveMSN := false
	err := eachAttr(value, func(name, v string, _ bool) error {
		switch name {
		case "URI":
			r.URI = v
		case "LAST-MSN":
			n, err := parseSequence(v)
			if err != nil {
				return fmt.Errorf("EXT-X-RENDITION-REPORT LAST-MSN: %w", err)
			}
			r.LastMSN, haveMSN = n, true
		case "LAST-PART":
			n, err := parseSequence(v)
			if err != nil || n > 1<<30 {
				return fmt.Errorf("EXT-X-RENDITION-REPORT LAST-PART %q is not a small integer", v)
			}
			r.LastPart = int(n)
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case r.URI == "":
		return errors.New("EXT-X-RENDITION-REPORT without URI")
	case !haveMSN:
		return errors.New("EXT-X-RENDITION-REPORT without LAST-MSN")
	}
	p.m.RenditionReports = append(p.m.RenditionReports, r)
	return nil
}
