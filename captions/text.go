package captions

import (
	"strings"

	"github.com/salon/salon/internal/textclean"
)

// keptTags are WebVTT's cue markup (W3C WebVTT §4.2.2); every other tag
// (<font>, <script>, <img …>) is removed and its content kept as text.
var keptTags = map[string]bool{"b": true, "i": true, "u": true, "c": true, "v": true, "lang": true, "ruby": true, "rt": true}

// entities are the character references WebVTT's cue text parser knows by
// name; any other '&' becomes &amp;.
var entities = []string{"amp;", "lt;", "gt;", "nbsp;", "lrm;", "rlm;"}

// cleanText makes cue text safe WebVTT: control and bidi-override characters
// removed (internal/textclean), WebVTT's own tags rebuilt from their parts,
// other tags dropped, stray '<', '>' and '&' escaped.
func cleanText(s string) (string, error) {
	s = textclean.Block(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '<':
			j := strings.IndexByte(s[i+1:], '>')
			nl := strings.IndexByte(s[i+1:], '\n')
			if j < 0 || (nl >= 0 && nl < j) || !tagStart(s[i+1]) {
				b.WriteString("&lt;")
				i++
				continue
			}
			appendTag(&b, s[i+1:i+1+j])
			i += j + 2
		case '>':
			b.WriteString("&gt;")
			i++
		case '&':
			if ref := entityAt(s[i+1:]); ref != "" {
				b.WriteByte('&')
				b.WriteString(ref)
				i += 1 + len(ref)
				continue
			}
			b.WriteString("&amp;")
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return dropBlankLines(b.String()), nil
}

// dropBlankLines removes lines with nothing to show (a blank line would end
// the cue when written back).
func dropBlankLines(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// tagStart tells whether c, after '<', starts a tag (as in HTML: "a < b"
// is text).
func tagStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/'
}

// entityAt returns the character reference s starts with (without its
// '&'), or "".
func entityAt(s string) string {
	for _, e := range entities {
		if strings.HasPrefix(s, e) {
			return e
		}
	}
	if !strings.HasPrefix(s, "#") {
		return ""
	}
	j := 1
	hex := len(s) > 1 && (s[1] == 'x' || s[1] == 'X')
	if hex {
		j = 2
	}
	k := j
	for k < len(s) && k < j+6 && (s[k] >= '0' && s[k] <= '9' || hex && (s[k]|0x20 >= 'a' && s[k]|0x20 <= 'f')) {
		k++
	}
	if k == j || k >= len(s) || s[k] != ';' {
		return ""
	}
	return s[:k+1]
}

// appendTag writes tag (what was between '<' and '>') when it is WebVTT
// markup, rebuilt from checked parts; otherwise nothing.
func appendTag(b *strings.Builder, tag string) {
	if isTimestampTag(tag) {
		b.WriteByte('<')
		b.WriteString(tag)
		b.WriteByte('>')
		return
	}
	closing := strings.HasPrefix(tag, "/")
	tag = strings.TrimPrefix(tag, "/")
	head, annotation, _ := strings.Cut(strings.ReplaceAll(tag, "\t", " "), " ")
	name, classes, _ := strings.Cut(head, ".")
	if !keptTags[name] {
		return
	}
	b.WriteByte('<')
	if closing {
		b.WriteByte('/')
		b.WriteString(name)
		b.WriteByte('>')
		return
	}
	b.WriteString(name)
	for _, cl := range strings.Split(classes, ".") {
		if cl != "" && isClassName(cl) {
			b.WriteByte('.')
			b.WriteString(cl)
		}
	}
	if a := strings.TrimSpace(annotation); a != "" && (name == "v" || name == "lang") {
		b.WriteByte(' ')
		for i := 0; i < len(a); i++ {
			switch {
			case a[i] == '<':
				b.WriteString("&lt;")
			case a[i] == '&' && entityAt(a[i+1:]) == "":
				b.WriteString("&amp;")
			default:
				b.WriteByte(a[i])
			}
		}
	}
	b.WriteByte('>')
}

func isClassName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return len(s) <= 32
}

// isTimestampTag tells a cue timestamp (<00:01.500>, karaoke timing).
func isTimestampTag(s string) bool {
	_, err := parseTime(s, '.')
	return err == nil
}

// PlainText is a cue's text without markup and with entities decoded: what
// a transcript shows (as text).
func PlainText(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		switch text[i] {
		case '<':
			j := strings.IndexByte(text[i:], '>')
			if j < 0 {
				b.WriteString(text[i:])
				return b.String()
			}
			i += j + 1
		case '&':
			ref := entityAt(text[i+1:])
			switch ref {
			case "amp;":
				b.WriteByte('&')
			case "lt;":
				b.WriteByte('<')
			case "gt;":
				b.WriteByte('>')
			case "nbsp;":
				b.WriteString("\u00a0")
			case "":
				b.WriteByte('&')
				i++
				continue
			}
			i += 1 + len(ref)
		default:
			b.WriteByte(text[i])
			i++
		}
	}
	return b.String()
}
