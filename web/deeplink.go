package web

import (
	"net/url"
	"strconv"
	"strings"
)

// Deep links into a replay: /talks/{id}?t=12m30s opens the replay at that
// time, ?slide=12 at the moment slide 12 was first shown (the browser finds
// it in the talk's chapters, /talks/{id}/chapters.vtt). A value that does not
// parse is ignored: the page opens as without it, and nothing of the query is
// written into the page but the numbers parsed here.

// deepLink is what a talk page's query asks for.
type deepLink struct {
	// Start is the position asked for, in whole seconds as text ("750"), or
	// "" for none.
	Start string
	// Slide is the slide asked for (1-based), or 0 for none.
	Slide int
}

// maxDeepLinkSeconds bounds ?t: 100 hours, longer than any talk.
const maxDeepLinkSeconds = 100 * 3600

// parseDeepLink reads ?t and ?slide. With both, t wins: it is the more
// precise of the two.
func parseDeepLink(q url.Values) deepLink {
	var d deepLink
	if secs, ok := parseMediaTime(q.Get("t")); ok {
		d.Start = strconv.Itoa(secs)
		return d
	}
	if n, err := strconv.Atoi(q.Get("slide")); err == nil && n >= 1 && n <= 100000 {
		d.Slide = n
	}
	return d
}

// parseMediaTime reads a position in a video as YouTube's links write it:
// seconds ("750", "750s") or hours, minutes and seconds in that order, each
// optional ("12m30s", "1h2m3s", "1h", "2m"). It returns whole seconds, and
// false for anything else (empty, negative, fractions, other units, units
// out of order or repeated, more than maxDeepLinkSeconds).
func parseMediaTime(s string) (int, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > maxDeepLinkSeconds || s[0] == '+' || s[0] == '-' {
			return 0, false
		}
		return n, true
	}
	total := 0
	units := "hms"
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) || i > 6 {
			return 0, false
		}
		n, _ := strconv.Atoi(rest[:i])
		u := strings.IndexByte(units, rest[i])
		if u < 0 {
			return 0, false
		}
		switch units[u] {
		case 'h':
			total += n * 3600
		case 'm':
			total += n * 60
		case 's':
			total += n
		}
		units = units[u+1:]
		rest = rest[i+1:]
	}
	if total > maxDeepLinkSeconds {
		return 0, false
	}
	return total, true
}
