package schedule

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rawConference and rawEvent are what either reader found in the file, as
// strings; build turns them into a Schedule with one set of rules, so that
// both formats accept and refuse the same things.
type rawConference struct {
	format       string // "schedule.json" or "schedule.xml"
	version      string
	acronym      string
	title        string
	timeZoneName string
	url          string
	rooms        []string
	days         []rawDay
}

type rawDay struct {
	where      string
	index      string
	date       string
	start, end string
	events     []rawEvent
}

type rawEvent struct {
	where string // "day 2026-12-05, room \"Saal 1\", event 3" or "line 42"
	// listedRoom is the room the event is listed under (the day's rooms key
	// or <room name>); room is the event's own room field.
	listedRoom  string
	guid        string
	id, code    string
	date        string
	start       string
	duration    string
	room        string
	slug        string
	url         string
	title       string
	subtitle    string
	track       string
	typ         string
	language    string
	abstract    string
	description string
	doNotRecord bool
	persons     []string
}

// build validates what a reader found and makes the Schedule.
func build(c rawConference) (*Schedule, error) {
	f := c.format
	s := &Schedule{Version: cleanLine(c.version)}
	conf := &s.Conference
	conf.Acronym = cleanLine(c.acronym)
	conf.Title = cleanLine(c.title)
	conf.URL = cleanLine(c.url)
	conf.TimeZoneName = strings.TrimSpace(c.timeZoneName)
	if conf.TimeZoneName != "" {
		loc, err := time.LoadLocation(conf.TimeZoneName)
		if err == nil && conf.TimeZoneName == "Local" {
			err = fmt.Errorf("the server's own zone is not a zone name")
		}
		if err != nil {
			return nil, &Error{Format: f, Where: "conference", Msg: fmt.Sprintf("time_zone_name %q is not a known IANA time zone (like Asia/Shanghai): %v; fix the name, or check that the server has time zone data", shorten(conf.TimeZoneName, 64), err), Err: err}
		}
		conf.TimeZone = loc
	}
	seenRoom := map[string]bool{}
	addRoom := func(name string) {
		if name != "" && !seenRoom[name] {
			seenRoom[name] = true
			conf.Rooms = append(conf.Rooms, name)
		}
	}
	for _, r := range c.rooms {
		addRoom(cleanLine(r))
	}

	n := 0
	for _, d := range c.days {
		n += len(d.events)
	}
	if n > MaxEvents {
		return nil, errorf(f, "", "%d events; at most %d are accepted", n, MaxEvents)
	}
	s.Events = make([]Event, 0, n)
	byGUID := make(map[string]int, n) // guid → index in s.Events, for duplicates
	for _, d := range c.days {
		day, err := buildDay(f, d)
		if err != nil {
			return nil, err
		}
		conf.Days = append(conf.Days, day)
		for _, re := range d.events {
			e, err := buildEvent(f, day, re, conf.TimeZone)
			if err != nil {
				return nil, err
			}
			if prev, ok := byGUID[e.GUID]; ok {
				return nil, errorf(f, describe(e, re.where), "guid %s is also the guid of %s; every event needs its own guid (re-imports match talks by it)", e.GUID, describe(s.Events[prev], ""))
			}
			byGUID[e.GUID] = len(s.Events)
			addRoom(e.Room)
			s.Events = append(s.Events, e)
		}
	}
	if conf.TimeZone == nil {
		conf.TimeZone = time.UTC
		if len(s.Events) > 0 {
			// No zone name: the offset the events are written in is the
			// best guess of the event's zone.
			if name, off := s.Events[0].Start.Zone(); off != 0 || name != "UTC" {
				conf.TimeZone = time.FixedZone(name, off)
			}
		}
	}
	slices.SortFunc(s.Events, func(a, b Event) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.Room, b.Room), strings.Compare(a.GUID, b.GUID))
	})
	if err := checkOverlaps(f, s.Events); err != nil {
		return nil, err
	}
	return s, nil
}

func buildDay(f string, d rawDay) (Day, error) {
	day := Day{Date: strings.TrimSpace(d.date)}
	if d.index != "" {
		i, err := strconv.Atoi(strings.TrimSpace(d.index))
		if err != nil || i < 0 {
			return Day{}, errorf(f, d.where, "index %q is not a day number", shorten(d.index, 32))
		}
		day.Index = i
	}
	if day.Date != "" {
		if _, err := time.Parse(time.DateOnly, day.Date); err != nil {
			return Day{}, errorf(f, d.where, "date %q is not a date like 2026-12-05", shorten(day.Date, 40))
		}
	}
	var err error
	if day.Start, err = parseDateTime(d.start); err != nil {
		return Day{}, errorf(f, d.where, "day_start %q: %v", shorten(d.start, 40), err)
	}
	if day.End, err = parseDateTime(d.end); err != nil {
		return Day{}, errorf(f, d.where, "day_end %q: %v", shorten(d.end, 40), err)
	}
	if !day.Start.IsZero() && !day.End.IsZero() && day.End.Before(day.Start) {
		return Day{}, errorf(f, d.where, "day_end %s is before day_start %s", d.end, d.start)
	}
	return day, nil
}

// describe names an event in an error: its guid, title and room.
func describe(e Event, where string) string {
	s := "event"
	if e.GUID != "" {
		s += " " + e.GUID
	}
	if e.Title != "" {
		s += fmt.Sprintf(" %q", shorten(e.Title, 60))
	}
	if e.Room != "" {
		s += fmt.Sprintf(" in room %q", shorten(e.Room, 40))
	}
	if where != "" {
		s += " (" + where + ")"
	}
	return s
}

func buildEvent(f string, day Day, re rawEvent, loc *time.Location) (Event, error) {
	e := Event{
		GUID:        strings.TrimSpace(re.guid),
		ID:          cleanLine(re.id),
		Code:        cleanLine(re.code),
		Slug:        cleanLine(re.slug),
		Title:       cleanLine(re.title),
		Subtitle:    cleanLine(re.subtitle),
		Abstract:    cleanText(re.abstract),
		Description: cleanText(re.description),
		Room:        cleanLine(re.room),
		Track:       cleanLine(re.track),
		Type:        cleanLine(re.typ),
		Language:    cleanLine(re.language),
		DoNotRecord: re.doNotRecord,
		URL:         cleanLine(re.url),
	}
	for _, p := range re.persons {
		if p = cleanLine(p); p != "" {
			e.Persons = append(e.Persons, p)
		}
	}
	listed := cleanLine(re.listedRoom)
	if e.Room == "" {
		e.Room = listed
	}
	where := func() string { return describe(e, re.where) } // made on the way to an error only
	switch {
	case e.GUID == "":
		return Event{}, errorf(f, where(), "no guid; every event needs one (re-imports match talks by it)")
	case !ValidGUID(e.GUID):
		return Event{}, errorf(f, where(), "guid %q is not valid: want 1–%d of A-Z, a-z, 0-9, '-', '_', '.' and ':' (a UUID)", shorten(e.GUID, 80), maxGUIDLen)
	case e.Title == "":
		return Event{}, errorf(f, where(), "no title")
	case e.Room == "":
		return Event{}, errorf(f, where(), "no room")
	case listed != "" && listed != e.Room:
		return Event{}, errorf(f, where(), "listed under room %q but its room field says %q", shorten(listed, 40), shorten(e.Room, 40))
	}

	var err error
	if e.Duration, err = parseDuration(re.duration); err != nil {
		return Event{}, errorf(f, where(), "duration %q: %v", shorten(re.duration, 20), err)
	}
	if e.Start, err = eventStart(day, re, loc); err != nil {
		return Event{}, errorf(f, where(), "%v", err)
	}
	if !day.Start.IsZero() && !day.End.IsZero() {
		if e.Start.Before(day.Start) || !e.Start.Before(day.End) {
			return Event{}, errorf(f, where(), "starts at %s, outside its day %s (%s to %s)", e.Start.Format(time.RFC3339), day.Date, day.Start.Format(time.RFC3339), day.End.Format(time.RFC3339))
		}
	} else if day.Date != "" {
		// Without day bounds: the event starts on its day's date, or in the
		// small hours after it (a day that runs past midnight).
		d := e.Start.Format(time.DateOnly)
		next, _ := time.Parse(time.DateOnly, day.Date)
		if d != day.Date && (d != next.AddDate(0, 0, 1).Format(time.DateOnly) || e.Start.Hour() >= 12) {
			return Event{}, errorf(f, where(), "starts on %s but is listed under the day %s", d, day.Date)
		}
	}
	return e, nil
}

// eventStart reads an event's start: its date (ISO 8601 with offset) when
// given, checked against its start (HH:MM, the same wall time), else the
// day's date and the start in the conference's zone.
func eventStart(day Day, re rawEvent, loc *time.Location) (time.Time, error) {
	date := strings.TrimSpace(re.date)
	hm, hasHM, err := parseClock(re.start)
	if err != nil {
		return time.Time{}, fmt.Errorf("start %q: %v", shorten(re.start, 40), err)
	}
	if date != "" {
		t, err := parseDateTime(date)
		if err != nil {
			return time.Time{}, fmt.Errorf("date %q: %v", shorten(date, 40), err)
		}
		if hasHM && (t.Hour()*60+t.Minute()) != int(hm/time.Minute) {
			return time.Time{}, fmt.Errorf("start %s disagrees with date %s (the start is the date's local time)", strings.TrimSpace(re.start), date)
		}
		return t, nil
	}
	if !hasHM {
		return time.Time{}, fmt.Errorf("no date and no start")
	}
	if day.Date == "" {
		return time.Time{}, fmt.Errorf("no date, and its day has no date either")
	}
	if loc == nil {
		if day.Start.IsZero() {
			return time.Time{}, fmt.Errorf("no date with a UTC offset, and the schedule has no time_zone_name")
		}
		loc = day.Start.Location()
	}
	d, _ := time.ParseInLocation(time.DateOnly, day.Date, loc) // checked in buildDay
	t := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).Add(hm)
	if !day.Start.IsZero() && t.Before(day.Start) {
		t = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc).Add(hm) // after midnight
	}
	return t, nil
}

// parseDateTime reads an ISO 8601 date-time with an offset
// ("2026-12-05T10:30:00+08:00", seconds and fractions optional). Empty is
// the zero time.
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date and time with a UTC offset like 2026-12-05T10:30:00+08:00")
}

// parseClock reads a wall time "HH:MM" (or "H:MM", "HH:MM:SS") as the time
// since midnight. ok is false for an empty string.
func parseClock(s string) (d time.Duration, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, nil
	}
	d, err = parseHMS(s)
	if err != nil {
		return 0, false, err
	}
	if d >= 24*time.Hour {
		return 0, false, fmt.Errorf("not a time of day (00:00 to 23:59)")
	}
	return d, true, nil
}

// parseDuration reads an event's duration: "HH:MM" as frab and pretalx
// write it, or "H:MM:SS" as some other tools do.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing; want hours and minutes like 00:45")
	}
	d, err := parseHMS(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("an event must last longer than 00:00")
	}
	if d > MaxDuration {
		return 0, fmt.Errorf("longer than %d hours", int(MaxDuration.Hours()))
	}
	return d, nil
}

// parseHMS reads H:MM or H:MM:SS; hours are 1–3 digits, minutes and seconds
// two digits below 60.
func parseHMS(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	bad := fmt.Errorf("not hours and minutes like 01:30 (or 1:30:00)")
	if len(parts) < 2 || len(parts) > 3 || len(parts[0]) < 1 || len(parts[0]) > 3 {
		return 0, bad
	}
	var v [3]int
	for i, p := range parts {
		if i > 0 && len(p) != 2 {
			return 0, bad
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return 0, bad
			}
		}
		v[i], _ = strconv.Atoi(p)
		if i > 0 && v[i] >= 60 {
			return 0, bad
		}
	}
	return time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second, nil
}

// checkOverlaps refuses two events at once in one room. events are sorted
// by start.
func checkOverlaps(f string, events []Event) error {
	last := map[string]int{} // room → index of the event that ends last so far
	for i := range events {
		e := &events[i]
		if j, ok := last[e.Room]; ok {
			p := &events[j]
			if e.Start.Before(p.End()) {
				return errorf(f, describe(*e, ""), "starts at %s, before %s ends at %s in the same room; fix the times or the room",
					e.Start.Format("2006-01-02 15:04"), describe(*p, ""), p.End().In(e.Start.Location()).Format("15:04"))
			}
			if !e.End().After(p.End()) {
				continue
			}
		}
		last[e.Room] = i
	}
	return nil
}
