package playlist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// eachAttr calls f for every attribute of an attribute list (RFC 8216 §4.2):
// NAME=VALUE pairs separated by commas, where a quoted-string value may hold
// commas. Spaces around names are tolerated. It stops at f's first error.
func eachAttr(list string, f func(name, value string, quoted bool) error) error {
	for list != "" {
		name, rest, ok := strings.Cut(list, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return fmt.Errorf("attribute list %q: expected NAME=VALUE", clip(list))
		}
		var value string
		quoted := strings.HasPrefix(rest, `"`)
		if quoted {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return fmt.Errorf("attribute %s: the quoted string has no closing \"", name)
			}
			value, rest = rest[1:1+end], rest[2+end:]
			rest = strings.TrimLeft(rest, " ")
			if rest != "" && rest[0] != ',' {
				return fmt.Errorf("attribute %s: expected , after the quoted string", name)
			}
		} else {
			value, rest, _ = strings.Cut(rest, ",")
			value = strings.TrimSpace(value)
			if strings.IndexByte(value, '"') >= 0 {
				return fmt.Errorf("attribute %s: a \" inside an unquoted value", name)
			}
			rest = "," + rest
			if rest == "," {
				rest = ""
			}
		}
		if err := f(name, value, quoted); err != nil {
			return err
		}
		list = strings.TrimPrefix(rest, ",")
	}
	return nil
}

// parseSeconds parses a decimal-floating-point number of seconds ("2",
// "2.002", "0.20000") exactly, without a float, to the nanosecond (further
// digits are dropped). A sign is accepted only when signed (EXT-X-START's
// signed-decimal-floating-point).
func parseSeconds(s string, signed bool) (time.Duration, error) {
	orig := s
	neg := false
	if signed && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	ip, fp, _ := strings.Cut(s, ".")
	if (ip == "" && fp == "") || !digits(ip) || !digits(fp) || len(ip) > 10 {
		return 0, fmt.Errorf("%q is not a decimal number of seconds", orig)
	}
	var sec int64
	for _, c := range []byte(ip) {
		sec = sec*10 + int64(c-'0')
	}
	var ns int64
	for i := range 9 {
		ns *= 10
		if i < len(fp) {
			ns += int64(fp[i] - '0')
		}
	}
	if sec > int64(MaxDuration/time.Second) {
		return 0, fmt.Errorf("%s s is longer than %s", orig, MaxDuration)
	}
	d := time.Duration(sec)*time.Second + time.Duration(ns)
	if d > MaxDuration {
		return 0, fmt.Errorf("%s s is longer than %s", orig, MaxDuration)
	}
	if neg {
		d = -d
	}
	return d, nil
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// maxSequence bounds media sequence numbers, LAST-MSN and SKIPPED-SEGMENTS
// so that a sequence number plus a count of segments cannot overflow.
const maxSequence = 1<<62 - 1

// parseSequence parses a decimal-integer used as a sequence number or count.
func parseSequence(s string) (uint64, error) {
	if !digits(s) || s == "" {
		return 0, fmt.Errorf("%q is not a decimal integer", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxSequence {
		return 0, fmt.Errorf("%q is out of range [0, %d]", s, uint64(maxSequence))
	}
	return n, nil
}

// parseDateTime parses an EXT-X-PROGRAM-DATE-TIME value: ISO 8601 as
// RFC 3339 writes it ("…Z", "…+02:00") or with a colon-less offset
// ("…+0200", as ffmpeg writes it). The result is UTC.
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			if y := t.UTC().Year(); y < 1 || y > 9999 {
				return time.Time{}, fmt.Errorf("%q is out of range", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time", s)
}

// errYes is returned for an enumerated YES/NO attribute with another value.
var errYes = errors.New("expected YES or NO")

func parseYes(v string) (bool, error) {
	switch v {
	case "YES":
		return true, nil
	case "NO":
		return false, nil
	}
	return false, errYes
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
