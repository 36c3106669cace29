package web

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

const (
	// maxArchiveRanges is the most byte ranges /archive serves from one
	// request. Players ask for one; a request with more (or with ranges out of
	// order or overlapping) gets the whole object with 200, as RFC 9110 §14.2
	// allows, so one request costs the bucket one read, not one per range.
	maxArchiveRanges = 16
	// maxArchiveSegment is the longest path segment of a key salon writes
	// (slide names are at most 240 bytes) and every file system can hold.
	maxArchiveSegment = 255
	// maxLoggedKey bounds the part of a client-chosen key written to the log.
	maxLoggedKey = 120
	// rangeSkip is the largest gap between two ranges that storeSeeker reads
	// through rather than opening the object again.
	rangeSkip = 64 << 10
)

// archiveKeyServed reports whether /archive serves key at all: keys of the
// bucket layout (DESIGN.md "Contract: the bucket": stages/… and talks/…, and
// the sponsors' logos, sponsors/…) with
// no hidden segment (salon never writes one; a DirStore's temp files start
// with a dot) and no segment longer than a file name can be. Anything else is
// 404 without asking the store, so a client cannot make salon answer 502 or
// write its key into the log.
func archiveKeyServed(key string) bool {
	if !strings.HasPrefix(key, "stages/") && !strings.HasPrefix(key, "talks/") && !strings.HasPrefix(key, "sponsors/") {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' || len(seg) > maxArchiveSegment {
			return false
		}
	}
	return true
}

// logKey is key as it may appear in a log line: at most maxLoggedKey bytes,
// cut at a character boundary.
func logKey(key string) string {
	if len(key) <= maxLoggedKey {
		return key
	}
	cut := maxLoggedKey
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return key[:cut] + "…"
}

// limitRanges drops a Range header that asks for more than maxArchiveRanges
// ranges, or for several ranges that are not in ascending order without
// overlap: http.ServeContent then answers 200 with the whole object. Ranges
// it cannot parse are left to ServeContent, which answers 416.
func limitRanges(r *http.Request) {
	h := r.Header.Get("Range")
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || !strings.Contains(spec, ",") {
		return
	}
	if strings.Count(spec, ",")+1 > maxArchiveRanges || !ascendingRanges(spec) {
		r.Header.Del("Range")
	}
}

// ascendingRanges reports whether every range of spec has a first byte
// position after the last byte of the range before it. Suffix ranges
// ("-500") and open ranges ("100-") other than the last make it false.
func ascendingRanges(spec string) bool {
	last := int64(-1)
	parts := strings.Split(spec, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		startS, endS, ok := strings.Cut(p, "-")
		start, err1 := parseUint(startS)
		if !ok || err1 {
			return false
		}
		if start <= last {
			return false
		}
		if endS == "" {
			return i == len(parts)-1
		}
		end, err2 := parseUint(endS)
		if err2 || end < start {
			return false
		}
		last = end
	}
	return true
}

// parseUint parses a decimal byte position of at most 18 digits; bad reports
// anything else.
func parseUint(s string) (n int64, bad bool) {
	if s == "" || len(s) > 18 {
		return 0, true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, true
		}
		n = n*10 + int64(c-'0')
	}
	return n, false
}
