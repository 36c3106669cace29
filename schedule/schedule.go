// Package schedule reads and writes a conference's programme in the formats
// pretalx, frab and the C3VOC tools exchange: schedule.json (the C3VOC schema,
// https://c3voc.de/schedule/schema.json) and schedule.xml (frab's), and
// writes the day as iCalendar (RFC 5545) for calendars.
//
// The package is pure: it parses bytes and writes to an io.Writer, with no
// HTTP and no storage. Every file it reads is untrusted: Parse bounds the
// size and the nesting depth before it builds anything, and refuses a file
// that would make the programme ambiguous (a guid twice, two events at once
// in one room, a time that does not parse) with an error naming the event
// and where it is.
package schedule

import (
	"errors"
	"fmt"
	"time"
)

// Limits of a schedule file.
const (
	// MaxSize is the largest file Parse reads (a 1,000-event conference is
	// about 2 MB of pretalx JSON).
	MaxSize = 10 << 20
	// MaxDepth bounds the nesting of JSON values or XML elements. The
	// deepest path of either format is about 10 levels.
	MaxDepth = 32
	// MaxEvents bounds the events of one file.
	MaxEvents = 10000
	// MaxDuration is the longest event Parse accepts.
	MaxDuration = 24 * time.Hour
	// maxGUIDLen bounds an event guid (a UUID is 36 characters).
	maxGUIDLen = 64
)

// ErrTooLarge is wrapped by the error Parse returns for a file over MaxSize
// (HTTP 413); every other error of Parse is bad input (400).
var ErrTooLarge = errors.New("schedule file too large")

// Schedule is one conference's programme.
type Schedule struct {
	// Version is the schedule's version string, as the tool that made it
	// wrote it ("0.9", a pretalx release name…).
	Version    string
	Conference Conference
	// Events are sorted by Start, then Room, then GUID.
	Events []Event
}

// Conference describes the event as a whole.
type Conference struct {
	Acronym string
	Title   string
	// TimeZoneName is the IANA name (time_zone_name), empty when the file
	// has none.
	TimeZoneName string
	// TimeZone is the event's zone: loaded from TimeZoneName, else the UTC
	// offset the events carry (a fixed zone), else UTC. Never nil after
	// Parse.
	TimeZone *time.Location
	// URL is the conference's public site, when given.
	URL string
	// Rooms in the order the file lists them (conference.rooms, then the
	// order rooms first appear in the days).
	Rooms []string
	Days  []Day
}

// Day is one day of the conference.
type Day struct {
	Index int
	// Date is the day's date, YYYY-MM-DD.
	Date string
	// Start and End bound the day's events; zero when the file has none.
	Start, End time.Time
}

// Event is one talk, workshop or break of the programme. Every text is
// NFC-normalised with control and bidi-override characters removed; titles
// and names in any script are otherwise kept exactly.
type Event struct {
	// GUID identifies the event across versions of the schedule (pretalx and
	// frab write a UUID); a re-import matches talks by it.
	GUID string
	// ID is the tool's numeric id ("123"), Code pretalx's submission code
	// ("ABCDEF"); either may be empty.
	ID   string
	Code string
	Slug string

	Title       string
	Subtitle    string
	Abstract    string
	Description string
	Room        string
	Track       string
	Type        string
	Language    string
	Persons     []string

	// Start is the event's start with the offset of the file (time.Time
	// compares instants, so zones do not matter to comparisons).
	Start    time.Time
	Duration time.Duration
	// DoNotRecord: the speakers asked not to be recorded.
	DoNotRecord bool
	// URL is the event's page on the tool that made the schedule.
	URL string

	// Links and Attachments are written by WriteJSON (a replay page, a
	// playlist, files); Parse leaves them empty.
	Links       []Link
	Attachments []Link
}

// End is when the event is scheduled to end.
func (e *Event) End() time.Time { return e.Start.Add(e.Duration) }

// Link is a URL attached to an event, as pretalx writes them:
// {"title","url","type"}.
type Link struct {
	Title string
	URL   string
	// Type says what the link is: pretalx writes "related"; salon writes
	// "recording" for its replays.
	Type string
}

// Error is a refusal of Parse: what is wrong and where.
type Error struct {
	// Format is "schedule.json" or "schedule.xml" (empty before the format
	// is known).
	Format string
	// Where names the place: an event ("event 6f1c… \"Title\" in room
	// Saal 1"), a room, a day, a line or a JSON path.
	Where string
	Msg   string
	// Err is an underlying error (ErrTooLarge, a time parse error), if any.
	Err error
}

func (e *Error) Error() string {
	s := "schedule"
	if e.Format != "" {
		s = e.Format
	}
	if e.Where != "" {
		s += ": " + e.Where
	}
	return s + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(format, where, msg string, args ...any) *Error {
	return &Error{Format: format, Where: where, Msg: fmt.Sprintf(msg, args...)}
}

// ValidGUID reports whether g can be an event guid: 1–64 of A-Z, a-z, 0-9
// and - _ . : — one token, safe to match and show without escaping. It is
// the rule of archive.Talk's guid.
func ValidGUID(g string) bool {
	if g == "" || len(g) > maxGUIDLen {
		return false
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// ZoneName is loc's IANA name when it has one ("Asia/Shanghai"), else ""
// (a fixed offset, or the machine's "Local"): the name a schedule's
// time_zone_name or a calendar's X-WR-TIMEZONE may carry.
func ZoneName(loc *time.Location) string {
	if loc == nil || loc == time.UTC {
		return ""
	}
	name := loc.String()
	if name == "" || name == "Local" {
		return ""
	}
	if _, err := time.LoadLocation(name); err != nil {
		return ""
	}
	return name
}
