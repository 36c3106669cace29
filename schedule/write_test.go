package schedule

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
)

func parseFile(t *testing.T, name string) *Schedule {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWriteJSON_RoundTrip(t *testing.T) {
	for _, name := range []string{"testdata/pretalx.json", "testdata/frab.xml"} {
		t.Run(name, func(t *testing.T) {
			s := parseFile(t, name)
			s.Events[0].Links = []Link{{Title: "Replay", URL: "https://salon.example.org/talks/x", Type: "recording"}}
			s.Events[0].Attachments = []Link{{Title: "MP4", URL: "https://salon.example.org/talks/x/download.mp4", Type: "recording"}}
			var buf bytes.Buffer
			if err := WriteJSON(&buf, s); err != nil {
				t.Fatal(err)
			}
			back, err := Parse(buf.Bytes())
			if err != nil {
				t.Fatalf("Parse of WriteJSON's output: %v\n%s", err, buf.String())
			}
			if back.Conference.TimeZone.String() != s.Conference.TimeZone.String() || back.Conference.Title != s.Conference.Title {
				t.Errorf("conference %+v, want %+v", back.Conference, s.Conference)
			}
			if len(back.Events) != len(s.Events) {
				t.Fatalf("%d events back, want %d", len(back.Events), len(s.Events))
			}
			for i, e := range s.Events {
				b := back.Events[i]
				if b.GUID != e.GUID || b.Title != e.Title || !b.Start.Equal(e.Start) || b.Duration != e.Duration ||
					b.Room != e.Room || b.DoNotRecord != e.DoNotRecord || b.Track != e.Track || b.Abstract != e.Abstract ||
					!slices.Equal(b.Persons, e.Persons) || b.Slug != e.Slug || b.Language != e.Language {
					t.Errorf("event %d back:\n%+v\nwant\n%+v", i, b, e)
				}
			}
			// The links are where pretalx puts them, and the file names the schema.
			var raw struct {
				Schema   string `json:"$schema"`
				Schedule struct {
					Version    string
					Conference struct {
						Days []struct {
							Rooms map[string][]struct {
								GUID        string
								Links       []Link
								Attachments []Link
							}
						}
					}
				}
			}
			if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			if raw.Schema != SchemaURL || raw.Schedule.Version == "" {
				t.Errorf("$schema %q version %q", raw.Schema, raw.Schedule.Version)
			}
			found := false
			for _, d := range raw.Schedule.Conference.Days {
				for _, evs := range d.Rooms {
					for _, e := range evs {
						if e.GUID == s.Events[0].GUID {
							found = len(e.Links) == 1 && e.Links[0].URL == "https://salon.example.org/talks/x" &&
								len(e.Attachments) == 1 && strings.HasSuffix(e.Attachments[0].URL, ".mp4")
						}
					}
				}
			}
			if !found {
				t.Errorf("links of the first event not in the output:\n%s", buf.String())
			}
			// Written twice, the same bytes (the version is a hash of the content).
			var again bytes.Buffer
			WriteJSON(&again, s)
			if !bytes.Equal(again.Bytes(), buf.Bytes()) {
				t.Error("two writes of one schedule differ")
			}
		})
	}
}

// A programme made in salon has no rooms list, no days and no zone name.
func TestWriteJSON_Minimal(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	s := &Schedule{Conference: Conference{TimeZone: shanghai}, Events: []Event{
		{GUID: g2, Title: "二", Room: "main", Start: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), Duration: time.Hour},
		{GUID: g1, Title: "一", Room: "main", Start: time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC), Duration: 30 * time.Minute},
	}}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(back.Conference.Days) != 2 || back.Conference.Days[0].Date != "2026-12-05" || back.Conference.Days[1].Date != "2026-12-06" {
		t.Errorf("days %+v", back.Conference.Days)
	}
	if back.Conference.TimeZoneName != "Asia/Shanghai" || back.Events[0].Start.Format(time.RFC3339) != "2026-12-05T10:00:00+08:00" {
		t.Errorf("zone %q, first start %s", back.Conference.TimeZoneName, back.Events[0].Start.Format(time.RFC3339))
	}
}

func TestWriteICS(t *testing.T) {
	s := parseFile(t, "testdata/pretalx.json")
	long := strings.Repeat("开源社区的一天，", 30)
	s.Events[0].Title = `Comma, semi; back\slash "quote"`
	s.Events[0].Abstract = "line one\nline two\r\nthird " + long
	s.Events[0].Links = []Link{{Title: "Replay", URL: "https://salon.example.org/talks/x"}}
	stamp := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := WriteICS(&buf, s, stamp); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	checkICSLines(t, out)
	for _, want := range []string{
		"BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", "PRODID:-//salon//schedule//EN\r\n",
		"X-WR-TIMEZONE:Asia/Shanghai\r\n", "DTSTAMP:20261201T080000Z\r\n",
		"UID:" + g1 + "\r\n", "DTSTART:20261205T020000Z\r\n", "DTEND:20261205T024500Z\r\n",
		`SUMMARY:Comma\, semi\; back\\slash "quote"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	unfolded := strings.ReplaceAll(out, "\r\n ", "")
	if !strings.Contains(unfolded, `line one\nline two\nthird `+long) {
		t.Errorf("description not escaped and unfolded as expected:\n%s", unfolded)
	}

	cal, err := ics.ParseCalendar(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	evs := cal.Events()
	if len(evs) != len(s.Events) {
		t.Fatalf("%d events parsed back, want %d", len(evs), len(s.Events))
	}
	for i, e := range s.Events {
		ev := evs[i]
		start, err := ev.GetStartAt()
		if err != nil {
			t.Fatal(err)
		}
		end, _ := ev.GetEndAt()
		if ev.Id() != e.GUID || !start.Equal(e.Start) || !end.Equal(e.End()) {
			t.Errorf("event %d: uid %s start %s end %s", i, ev.Id(), start, end)
		}
		if got := ics.FromText(ev.GetProperty(ics.ComponentPropertySummary).Value); got != e.Title {
			t.Errorf("event %d: summary %q, want %q", i, got, e.Title)
		}
		if got := ev.GetProperty(ics.ComponentPropertyLocation).Value; got != e.Room {
			t.Errorf("event %d: location %q", i, got)
		}
		if got := ev.GetProperty(ics.ComponentPropertyUrl).Value; got != e.URL {
			t.Errorf("event %d: url %q, want %q", i, got, e.URL)
		}
	}
	desc := ics.FromText(evs[0].GetProperty(ics.ComponentPropertyDescription).Value)
	if !strings.HasPrefix(desc, "陈静\n\nline one\nline two\nthird 开源") || !strings.HasSuffix(desc, "Replay: https://salon.example.org/talks/x") {
		t.Errorf("description back %q", desc)
	}
}

// checkICSLines holds the output to RFC 5545 §3.1 strictly: every line ends
// in CRLF, no bare CR or LF, at most 75 octets, valid UTF-8 on its own (a
// fold never splits a character), continuation lines start with a space.
func checkICSLines(t *testing.T, out string) {
	t.Helper()
	if !strings.HasSuffix(out, "\r\n") {
		t.Fatal("output does not end in CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
	begins, ends := 0, 0
	for i, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 75 {
			t.Errorf("line %d is %d octets: %q", i+1, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i+1, l)
		}
		if l == "" {
			t.Errorf("line %d is empty", i+1)
		}
		if i == 0 && l != "BEGIN:VCALENDAR" {
			t.Errorf("first line %q", l)
		}
		begins += strings.Count(l, "BEGIN:VEVENT")
		ends += strings.Count(l, "END:VEVENT")
	}
	if begins != ends || lines[len(lines)-1] != "END:VCALENDAR" {
		t.Errorf("%d BEGIN:VEVENT, %d END:VEVENT, last line %q", begins, ends, lines[len(lines)-1])
	}
}

func FuzzWriteICS(f *testing.F) {
	f.Add("开源社区的一天", "a,b;c\\d\ne", "主会场")
	f.Add(strings.Repeat("é", 100), strings.Repeat("👍", 80), "r")
	f.Fuzz(func(t *testing.T, title, abstract, room string) {
		e := Event{GUID: g1, Title: cleanLine(title), Abstract: cleanText(abstract), Room: cleanLine(room),
			Start: time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC), Duration: time.Hour}
		var buf bytes.Buffer
		if err := WriteICS(&buf, &Schedule{Events: []Event{e}}, e.Start); err != nil {
			t.Fatal(err)
		}
		checkICSLines(t, buf.String())
	})
}

// A zone without an IANA name (a fixed offset, as a file without
// time_zone_name gives) is not written as a time_zone_name that would not
// load back.
func TestZoneName(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{shanghai, "Asia/Shanghai"}, {time.UTC, ""}, {nil, ""}, {time.Local, ""},
		{time.FixedZone("CST", 8*3600), ""}, {time.FixedZone("", 3600), ""},
	} {
		if got := ZoneName(tc.loc); got != tc.want {
			t.Errorf("ZoneName(%v) = %q, want %q", tc.loc, got, tc.want)
		}
	}
	s := &Schedule{Conference: Conference{TimeZone: time.FixedZone("CST", 8*3600)}, Events: []Event{
		{GUID: g1, Title: "一", Room: "A", Start: time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC), Duration: time.Hour}}}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if _, off := back.Events[0].Start.Zone(); off != 8*3600 {
		t.Errorf("offset %d, want +08:00", off)
	}
}
