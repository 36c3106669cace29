package schedule

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// WriteICS writes s as an iCalendar (RFC 5545) calendar, one VEVENT per
// event: UID the event's guid, DTSTAMP stamp, DTSTART and DTEND in UTC (a
// calendar shows them in its user's zone; X-WR-TIMEZONE names the event's
// zone for the calendars that honour it), SUMMARY the title, LOCATION the
// room, DESCRIPTION the speakers and the abstract, URL the talk's page.
//
// github.com/arran4/golang-ical writes the lines: CRLF, folded at 75 octets
// without splitting a UTF-8 sequence, and TEXT values escaped (\\ \; \, \n).
// Text handed to it has its line breaks made "\n" first, because it escapes
// only "\n" and a lone "\r" would end the content line.
//
// stamp should change when the programme does (the caller's last change),
// not on every request, so that the file is the same bytes until then.
func WriteICS(w io.Writer, s *Schedule, stamp time.Time) error {
	cal := ics.NewCalendarFor("salon")
	cal.SetProductId("-//salon//schedule//EN")
	cal.SetMethod(ics.MethodPublish)
	cal.SetCalscale("GREGORIAN")
	title := cmp.Or(s.Conference.Title, "salon")
	cal.SetXWRCalName(icsText(title))
	if tz := cmp.Or(s.Conference.TimeZoneName, ZoneName(s.Conference.TimeZone)); tz != "" {
		cal.SetXWRTimezone(tz)
	}
	for _, e := range s.Events {
		ev := cal.AddEvent(e.GUID)
		ev.SetDtStampTime(stamp)
		ev.SetStartAt(e.Start)
		ev.SetEndAt(e.End())
		ev.SetSummary(icsText(e.Title))
		if e.Room != "" {
			ev.SetLocation(icsText(e.Room))
		}
		if d := icsDescription(e); d != "" {
			ev.SetDescription(d)
		}
		if e.URL != "" {
			ev.SetURL(e.URL)
		}
		if e.Track != "" {
			ev.AddCategory(icsText(e.Track))
		}
	}
	if err := cal.SerializeTo(w, ics.WithNewLine("\r\n")); err != nil {
		return fmt.Errorf("write schedule.ics: %w", err)
	}
	return nil
}

// icsDescription is the speakers, the abstract and the recording links.
func icsDescription(e Event) string {
	var parts []string
	if len(e.Persons) > 0 {
		parts = append(parts, strings.Join(e.Persons, ", "))
	}
	if e.Abstract != "" {
		parts = append(parts, e.Abstract)
	}
	for _, l := range e.Links {
		parts = append(parts, cmp.Or(l.Title, "Link")+": "+l.URL)
	}
	return icsText(strings.Join(parts, "\n\n"))
}

// icsText keeps text to what a content line can carry: line breaks as
// "\n" (escaped by the writer) and no other control character.
func icsText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\r' {
			return '\n'
		}
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
