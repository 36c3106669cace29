package schedule

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Text from a schedule is cleaned the same way for every field and both
// formats, so that a re-import of the same file compares equal:
//   - invalid UTF-8 becomes U+FFFD (encoding/json does this; the XML reader
//     refuses the file instead),
//   - bidi embeddings, overrides and isolates (U+202A–U+202E,
//     U+2066–U+2069) are removed: they can make a title display as
//     something else than it says (CVE-2021-42574 "Trojan Source"); the
//     marks LRM/RLM/ALM, which right-to-left text needs, stay,
//   - other control characters are removed, except that line breaks and
//     tabs become one space in a one-line field and stay (as "\n" and "\t")
//     in a multi-line one,
//   - the result is NFC, and a one-line field is trimmed with its runs of
//     spaces collapsed.
//
// Letters of every script are kept exactly: "开源社区的一天" stays as it is.

// cleanLine cleans a one-line field (title, name, room, track…).
func cleanLine(s string) string {
	if isPlainLine(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case isBidiControl(r):
			continue
		case r == '\n' || r == '\r' || r == '\t' || r == '\u2028' || r == '\u2029' || unicode.IsSpace(r) && r < 0x80:
			space = true
			continue
		case unicode.IsControl(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// isPlainLine reports whether s needs no cleaning: printable ASCII with no
// leading, trailing or double space. Most fields of most files are.
func isPlainLine(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == ' ' && s[i+1] == ' ' {
			return false
		}
	}
	return true
}

// cleanText cleans a multi-line field (abstract, description): line breaks
// are "\n", tabs stay, trailing space of the whole text goes.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case isBidiControl(r):
			continue
		case r == '\r' || r == '\u2028' || r == '\u2029':
			b.WriteByte('\n')
			continue
		case r == '\n' || r == '\t':
		case unicode.IsControl(r):
			continue
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(norm.NFC.String(b.String()))
}

// isBidiControl reports the explicit directional embeddings, overrides and
// isolates, which change how the text around them is displayed.
func isBidiControl(r rune) bool {
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069'
}

// shorten cuts s to at most n characters for an error message.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
