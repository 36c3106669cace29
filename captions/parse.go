package captions

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Format names what Parse read.
type Format string

const (
	FormatWebVTT Format = "webvtt"
	FormatSRT    Format = "srt"
)

// Parse reads a WebVTT or SRT file (told apart by its first line: WEBVTT
// starts a WebVTT file) into cues in time order. A byte order mark, CRLF
// and CR line ends are accepted. It refuses, with the line at fault: a file
// over the limits, text that is not UTF-8, a timing line it cannot read, a
// cue that ends before it starts or starts before the previous one, a cue
// with too much text. WebVTT's STYLE, REGION and NOTE blocks, cue ids and
// cue settings are dropped: what is kept is times and text. Cue text keeps
// WebVTT's own tags (b, i, u, c, v, lang, ruby, rt, timestamps); any other
// tag is removed, and stray '<', '>' and '&' become entities.
func Parse(data []byte, lim Limits) ([]Cue, Format, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, "", fmt.Errorf("the file is %d bytes, more than the limit of %d: %w", len(data), lim.MaxBytes, ErrTooLarge)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	p := &parser{lim: lim}
	if err := p.split(data); err != nil {
		return nil, "", err
	}
	if len(p.lines) > 0 && isVTTSignature(p.lines[0]) {
		cues, err := p.webvtt()
		return cues, FormatWebVTT, err
	}
	cues, err := p.srt()
	return cues, FormatSRT, err
}

func isVTTSignature(l string) bool {
	rest, ok := strings.CutPrefix(l, "WEBVTT")
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

type parser struct {
	lim   Limits
	lines []string
	cues  []Cue
}

// split cuts data into lines (LF, CRLF or CR), checking UTF-8 and NUL.
func (p *parser) split(data []byte) error {
	s := string(data)
	n := 1
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		var line string
		if i < 0 {
			line, s = s, ""
		} else {
			line = s[:i]
			if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			s = s[i+1:]
		}
		if !utf8.ValidString(line) {
			return errorf(n, "the text is not UTF-8; save the file as UTF-8 and upload it again")
		}
		if strings.IndexByte(line, 0) >= 0 {
			return errorf(n, "the line holds a NUL character; is this a caption file?")
		}
		p.lines = append(p.lines, line)
		n++
	}
	return nil
}

func blank(l string) bool { return strings.TrimSpace(l) == "" }

// webvtt parses the lines of a WebVTT file (W3C WebVTT §6.1, strictly for
// timings, leniently for what it drops).
func (p *parser) webvtt() ([]Cue, error) {
	i := 1
	for i < len(p.lines) && !blank(p.lines[i]) { // the header's other lines
		if strings.Contains(p.lines[i], "-->") {
			return nil, errorf(i+1, "a cue must be separated from the WEBVTT line by a blank line")
		}
		i++
	}
	for i < len(p.lines) {
		if blank(p.lines[i]) {
			i++
			continue
		}
		start := i
		for i < len(p.lines) && !blank(p.lines[i]) {
			i++
		}
		block := p.lines[start:i]
		first := block[0]
		switch {
		case strings.Contains(first, "-->"):
		case len(block) > 1 && strings.Contains(block[1], "-->"):
			block, start = block[1:], start+1 // a cue id: dropped
		case first == "NOTE" || strings.HasPrefix(first, "NOTE ") || strings.HasPrefix(first, "NOTE\t"),
			first == "STYLE" || first == "REGION" || strings.HasPrefix(first, "STYLE ") || strings.HasPrefix(first, "REGION "):
			continue
		default:
			return nil, errorf(start+1, "expected a cue timing such as 00:00:01.000 --> 00:00:04.000, found %q", truncate(first, 60))
		}
		if err := p.cue(block, start+1, '.'); err != nil {
			return nil, err
		}
	}
	return p.cues, nil
}

// srt parses SubRip: blocks of an optional counter, a timing line with
// comma (or dot) milliseconds and the text.
func (p *parser) srt() ([]Cue, error) {
	i := 0
	for i < len(p.lines) {
		if blank(p.lines[i]) {
			i++
			continue
		}
		start := i
		for i < len(p.lines) && !blank(p.lines[i]) {
			i++
		}
		block := p.lines[start:i]
		if !strings.Contains(block[0], "-->") {
			if len(block) < 2 || !strings.Contains(block[1], "-->") {
				if len(p.cues) == 0 {
					return nil, errorf(start+1, "this is neither WebVTT (its first line would be WEBVTT) nor SRT (a counter, then a timing such as 00:00:01,000 --> 00:00:04,000); found %q", truncate(block[0], 60))
				}
				return nil, errorf(start+1, "expected a cue counter and a timing such as 00:00:01,000 --> 00:00:04,000, found %q", truncate(block[0], 60))
			}
			if !allDigits(strings.TrimSpace(block[0])) {
				return nil, errorf(start+1, "expected a cue counter (a number) before the timing, found %q", truncate(block[0], 60))
			}
			block, start = block[1:], start+1
		}
		if err := p.cue(block, start+1, ','); err != nil {
			return nil, err
		}
	}
	if len(p.cues) == 0 && len(p.lines) > 0 && !allBlank(p.lines) {
		return nil, errorf(1, "no cue found")
	}
	return p.cues, nil
}

func allBlank(ls []string) bool {
	for _, l := range ls {
		if !blank(l) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cue reads one cue: block[0] is its timing line (on line n), the rest its
// text. sep is the format's millisecond separator; SRT accepts '.' too.
func (p *parser) cue(block []string, n int, sep byte) error {
	if len(p.cues) >= p.lim.MaxCues {
		return errorf(n, "more than %d cues: split the file or ask the organiser to raise the limit", p.lim.MaxCues)
	}
	l, r, ok := strings.Cut(block[0], "-->")
	if !ok {
		return errorf(n, "expected a cue timing such as 00:00:01.000 --> 00:00:04.000")
	}
	start, err := parseTime(strings.TrimSpace(l), sep)
	if err != nil {
		return errorf(n, "start time: %v", err)
	}
	r = strings.TrimLeft(r, " \t")
	endField, _, _ := strings.Cut(r, " ") // cue settings follow: dropped
	endField, _, _ = strings.Cut(endField, "\t")
	end, err := parseTime(endField, sep)
	if err != nil {
		return errorf(n, "end time: %v", err)
	}
	if end <= start {
		return errorf(n, "the cue ends (%s) before it starts (%s)", formatTime(end), formatTime(start))
	}
	if k := len(p.cues); k > 0 && start < p.cues[k-1].Start {
		return errorf(n, "the cue starts at %s, before the previous cue (%s): cues must be in time order", formatTime(start), formatTime(p.cues[k-1].Start))
	}
	for j, t := range block[1:] {
		if strings.Contains(t, "-->") {
			return errorf(n+1+j, "cue text cannot hold \"-->\"; is a blank line missing before this timing?")
		}
	}
	text, err := cleanText(strings.Join(block[1:], "\n"))
	if err != nil {
		return errorf(n, "%v", err)
	}
	if len(text) > p.lim.MaxCueText {
		return errorf(n, "the cue's text is %d bytes, more than the limit of %d: split it into shorter cues", len(text), p.lim.MaxCueText)
	}
	if strings.TrimSpace(text) == "" {
		return nil // an empty cue shows nothing
	}
	p.cues = append(p.cues, Cue{Start: start, End: end, Text: text})
	return nil
}

// parseTime reads [hh:]mm:ss{sep}ttt. SRT's ',' separator also takes '.'.
func parseTime(s string, sep byte) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a time such as 00:01:02%c345", truncate(s, 40), sep)
	fields := strings.Split(s, ":")
	if len(fields) < 2 || len(fields) > 3 {
		return 0, bad
	}
	last := fields[len(fields)-1]
	if len(last) != 6 || (last[2] != sep && last[2] != '.') {
		return 0, bad
	}
	var h, m, sec, ms int
	var ok bool
	if len(fields) == 3 {
		if len(fields[0]) < 2 || len(fields[0]) > 3 {
			return 0, bad
		}
		if h, ok = digits(fields[0]); !ok {
			return 0, bad
		}
	}
	mm := fields[len(fields)-2]
	if len(mm) != 2 {
		return 0, bad
	}
	if m, ok = digits(mm); !ok || m > 59 {
		return 0, bad
	}
	if sec, ok = digits(last[:2]); !ok || sec > 59 {
		return 0, bad
	}
	if ms, ok = digits(last[3:]); !ok {
		return 0, bad
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond
	if d > MaxTime {
		return 0, fmt.Errorf("%q is more than %v into the media", truncate(s, 40), MaxTime)
	}
	return d, nil
}

func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// Sort orders cues by start time (stable): for cues made elsewhere.
func Sort(cues []Cue) {
	slices.SortStableFunc(cues, func(a, b Cue) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
}
