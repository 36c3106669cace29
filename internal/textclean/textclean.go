// Package textclean is salon's one rule for text that people read: talk
// titles, speaker names, abstracts, tracks, slide file names, chat names and
// chat messages. Every package that takes such text from outside (the API,
// a schedule import, a chat frame, an upload's file name, talk.json read back
// from the bucket) passes it through Line or Block before storing it.
//
// The rule strips rather than refuses. A bidi override or a stray control
// character is never what a person meant to show, an imported schedule must
// not fail on an invisible character someone pasted in, and chat has always
// stripped them; what remains is checked for length by its owner, so a field
// made only of invisible characters ends up empty and is refused there.
//
// Removed everywhere: control characters (C0, C1, DEL) and format characters
// (Unicode category Cf: the bidi embeddings, overrides and isolates U+202A–
// U+202E and U+2066–U+2069, the marks U+200E, U+200F and U+061C, zero-width
// spaces, the byte order mark, soft hyphens, tag characters). Kept: the zero
// width joiner and non-joiner (U+200D, U+200C), which emoji sequences and
// several scripts need and which cannot reorder text. Invalid UTF-8 becomes
// U+FFFD.
package textclean

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line cleans a one-line field (a title, a name, a file name): line and
// paragraph breaks and tabs become spaces, everything the package comment
// lists is removed. It returns s itself when s is already clean.
func Line(s string) string { return clean(s, false) }

// Block cleans multi-line text (an abstract, a chat message): line breaks are
// kept as '\n' (CRLF, CR, U+2028 and U+2029 become '\n'), tabs are kept, the
// rest as Line. It returns s itself when s is already clean.
func Block(s string) string { return clean(s, true) }

// Removed reports whether r is removed from every field (a control or
// format character other than ZWJ and ZWNJ); line breaks and tabs, which
// Line and Block translate rather than remove, report true as well.
func Removed(r rune) bool {
	switch {
	case r == '\u200c' || r == '\u200d':
		return false
	case r < utf8.RuneSelf:
		return r < 0x20 || r == 0x7f
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

func clean(s string, multiline bool) string {
	if isClean(s, multiline) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				i++ // CRLF is one break
			}
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\n', r == '\u2028', r == '\u2029', r == '\u0085':
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			if multiline {
				b.WriteByte('\t')
			} else {
				b.WriteByte(' ')
			}
		case Removed(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isClean is the fast path: most text (ASCII or CJK, no controls) needs no
// copy.
func isClean(s string, multiline bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 || c == 0x7f) && !(multiline && (c == '\n' || c == '\t')) {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Removed(r) {
			return false
		}
		i += n
	}
	return true
}
