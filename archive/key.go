package archive

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes, that ValidKey accepts (S3's limit).
const MaxKeyLen = 1024

// ValidKey reports whether key is usable as an object key by every backend:
// a relative slash-separated path of 1–MaxKeyLen bytes of valid UTF-8, with
// no control characters, no backslash, no leading or trailing "/", and no
// empty, "." or ".." segment. These rules make a key map to exactly one file
// below a DirStore's root (no escape, no aliasing) and to the same S3 key.
func ValidKey(key string) error {
	if err := validPath(key); err != nil {
		return fmt.Errorf("invalid key %q: %w", key, err)
	}
	return nil
}

// validPath holds ValidKey's rules without the key in the message, so that
// callers checking other paths (prefixes) can word their own error.
func validPath(key string) error {
	switch {
	case key == "":
		return errors.New("empty")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return errors.New("not valid UTF-8")
	case strings.ContainsRune(key, '\\'):
		return errors.New(`contains a backslash; use "/" between segments`)
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		return errors.New("contains a control character")
	case strings.HasPrefix(key, "/"):
		return errors.New(`starts with "/"; keys are relative`)
	case strings.HasSuffix(key, "/"):
		return errors.New(`ends with "/"`)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return errors.New(`has an empty segment ("//")`)
		case ".", "..":
			return fmt.Errorf("has a %q segment", seg)
		}
	}
	return nil
}

// validPrefix checks a List prefix: empty (everything) or a key, optionally
// followed by "/" ("talks/" lists below talks; "talks/a" also matches
// "talks/ab"). The part before a trailing "/" must be a valid key.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := validPath(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("invalid list prefix %q: %w", prefix, err)
	}
	return nil
}
