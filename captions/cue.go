// Package captions owns the caption format salon stores and serves: WebVTT.
// It parses the files people upload (WebVTT, or SRT from any transcription
// tool) into cues, refusing what is broken with the line at fault, cleans
// their text (only WebVTT's own markup is kept, everything else is text),
// writes them back as one normalised WebVTT file or as the WebVTT segments
// of an HLS subtitle rendition, and keeps the cues posted live on each stage
// (Live) with a journal on disk, until the talk they belong to is archived.
//
// Uploads are untrusted: Parse bounds the file's size, the number of cues
// and each cue's text, and is fuzzed.
package captions

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Cue is one caption: a span of the media's timeline and its text.
//
// Text is WebVTT cue text: '\n' between lines; '<', '>' and '&' appear only
// as WebVTT markup (the tags Parse keeps) or as the entities &lt; &gt;
// &amp;. Pages show it as text (the browser's VTTCue parser), never as HTML.
type Cue struct {
	Start, End time.Duration
	Text       string
}

// Limits bound what Parse accepts. Zero fields take the defaults.
type Limits struct {
	MaxBytes   int // the whole file; DefaultMaxBytes
	MaxCues    int // DefaultMaxCues
	MaxCueText int // bytes of one cue's text, markup included; DefaultMaxCueText
}

// Default limits: a 3-hour talk captioned line by line has ~3,000 cues and
// ~300 KB; these leave room for much denser files.
const (
	DefaultMaxBytes   = 2 << 20
	DefaultMaxCues    = 20000
	DefaultMaxCueText = 1000
	// MaxTime bounds cue times: a day.
	MaxTime = 24 * time.Hour
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxCues <= 0 {
		l.MaxCues = DefaultMaxCues
	}
	if l.MaxCueText <= 0 {
		l.MaxCueText = DefaultMaxCueText
	}
	return l
}

// ErrTooLarge is returned (wrapped) for a file over Limits.MaxBytes.
var ErrTooLarge = errors.New("caption file too large")

// ParseError is a refused file: what is wrong, and on which line (from 1;
// 0 when it is the whole file).
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

func errorf(line int, format string, args ...any) *ParseError {
	return &ParseError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// MaxLangLen bounds a language tag (RFC 5646 §4.4.1 suggests 35).
const MaxLangLen = 35

// CanonicalLang checks that s is a BCP 47 language tag that names a
// language and returns its canonical form ("zh-cn" → "zh-CN", "EN" → "en"),
// which is what keys and playlists use.
func CanonicalLang(s string) (string, error) {
	if s == "" || len(s) > MaxLangLen {
		return "", fmt.Errorf("language %q: give a BCP 47 language tag of at most %d characters, such as en, zh-CN or pt-BR", truncate(s, 40), MaxLangLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return "", fmt.Errorf("language %q: a BCP 47 tag has only letters, digits and -, such as en, zh-CN or pt-BR", truncate(s, 40))
		}
	}
	t, err := language.Parse(s)
	if err != nil {
		return "", fmt.Errorf("language %q is not a BCP 47 language tag (%v); use one such as en, zh-CN or pt-BR", s, err)
	}
	if b, conf := t.Base(); conf != language.Exact || b.String() == "und" {
		return "", fmt.Errorf("language %q names no language; use a tag such as en, zh-CN or pt-BR", s)
	}
	c := t.String()
	if len(c) > MaxLangLen || strings.ContainsAny(c, "_/") {
		return "", fmt.Errorf("language %q: use a shorter BCP 47 tag, such as en, zh-CN or pt-BR", s)
	}
	return c, nil
}

// LangName is the language's name in itself ("中文（中国）", "English"), for
// the player's menu; the tag when x/text has no name for it.
func LangName(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	return nameOf(t, tag)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
