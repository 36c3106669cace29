package web

import (
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxZipName bounds one file name inside a bundle, in bytes (most file
// systems take 255).
const maxZipName = 150

// zipSafeName makes a stored file name (a slide deck's, a caption's) safe as
// one file name inside a zip, on any system it is unzipped on: no
// directories (slashes of either kind become "_"), no "." or ".." and no
// leading dots, none of the characters Windows refuses, no control
// characters, at most maxZipName bytes cut at a character boundary with the
// extension kept. Letters of any script stay ("讲义.pdf" is fine).
func zipSafeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), r == '\u2028', r == '\u2029':
			continue
		case strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteByte('_')
		case unicode.Is(unicode.Bidi_Control, r):
			continue
		default:
			b.WriteRune(r)
		}
	}
	s := strings.Trim(b.String(), ". ")
	if s == "" {
		return "file"
	}
	if len(s) > maxZipName {
		ext := path.Ext(s)
		if len(ext) > 16 || !utf8.ValidString(ext) {
			ext = ""
		}
		cut := maxZipName - len(ext)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimRight(s[:cut], ". ") + ext
	}
	return s
}

// zipNames hands out names inside one zip, each once: a second "a.pdf"
// becomes "a-2.pdf". Comparison ignores case, as Windows and macOS do.
type zipNames map[string]bool

func (z zipNames) unique(name string) string {
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	out := name
	for i := 2; z[strings.ToLower(out)]; i++ {
		out = stem + "-" + strconv.Itoa(i) + ext
	}
	z[strings.ToLower(out)] = true
	return out
}
