package schedule

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// event is one JSON event of a small schedule for the table tests.
func event(guid, title, room, date, start, duration string) string {
	return `{"guid":` + q(guid) + `,"id":1,"date":` + q(date) + `,"start":` + q(start) +
		`,"duration":` + q(duration) + `,"room":` + q(room) + `,"slug":"s","title":` + q(title) +
		`,"subtitle":"","track":null,"type":"Talk","language":"zh","abstract":"","persons":[{"name":"张伟"}],"links":[]}`
}

func q(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// doc wraps events, listed under their room, in a one-day schedule.json.
func doc(rooms map[string][]string) string {
	var parts []string
	for _, room := range slices.Sorted(mapsKeys(rooms)) {
		parts = append(parts, q(room)+":["+strings.Join(rooms[room], ",")+"]")
	}
	return `{"schedule":{"version":"1","conference":{"acronym":"salon","title":"沙龙","start":"2026-12-05","end":"2026-12-05","daysCount":1,"timeslot_duration":"00:05","time_zone_name":"Asia/Shanghai",` +
		`"days":[{"index":1,"date":"2026-12-05","day_start":"2026-12-05T09:00:00+08:00","day_end":"2026-12-05T20:00:00+08:00","rooms":{` +
		strings.Join(parts, ",") + `}}]}}}`
}

func mapsKeys(m map[string][]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

const (
	g1 = "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0001"
	g2 = "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0002"
	d1 = "2026-12-05T10:00:00+08:00"
	d2 = "2026-12-05T10:30:00+08:00"
)

// refusals are files Parse must refuse, with words the error must contain.
var refusals = []struct {
	name string
	in   string
	want []string
}{
	{"empty", "  \n", []string{"empty"}},
	{"neither format", "schedule: yes", []string{"expected", "schedule.json", "schedule.xml", `'s'`}},
	{"utf16", "\xFF\xFEx\x00", []string{"UTF-16"}},
	{"json not a schedule", `{"talks":[]}`, []string{"not a C3VOC schedule", "talks"}},
	{"json no conference", `{"schedule":{"version":"1"}}`, []string{"no \"conference\""}},
	{"json syntax", `{"schedule": {"version": "1",` + "\n" + `"conference": {"title": }}}`, []string{"not valid JSON", "line 2"}},
	{"json wrong type", `{"schedule":{"version":"1","conference":{"days":{"x":1}}}}`, []string{"line 1", "days"}},
	{"json too deep", `{"schedule":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, []string{"nested deeper than 32", "line 1, column 44"}},
	{"json deep in a string is fine, deep in a value is not", `{"schedule":{"version":"[[[[","conference":{"title":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}}}`, []string{"nested deeper"}},
	{"bad guid", doc(map[string][]string{"主会场": {event("not a guid!", "开源", "主会场", d1, "10:00", "00:30")}}), []string{"guid", "not a guid!", "not valid", `"开源"`, "主会场"}},
	{"no guid", doc(map[string][]string{"主会场": {event("", "开源", "主会场", d1, "10:00", "00:30")}}), []string{"no guid", `"开源"`}},
	{"duplicate guid", doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "00:30")}, "B": {event(g1, "二", "B", d1, "10:00", "00:30")}}), []string{g1, "also the guid", `"一"`, `"二"`}},
	{"overlap", doc(map[string][]string{"主会场": {event(g1, "第一", "主会场", d1, "10:00", "00:45"), event(g2, "第二", "主会场", d2, "10:30", "00:30")}}), []string{`"第二"`, "before", `"第一"`, "10:45", "same room"}},
	{"bad duration", doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "45 min")}}), []string{"duration", "45 min", `"一"`}},
	{"zero duration", doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "00:00")}}), []string{"duration", "longer than 00:00"}},
	{"minutes over 59", doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "00:75")}}), []string{"duration", "00:75"}},
	{"bad date", doc(map[string][]string{"A": {event(g1, "一", "A", "5.12.2026 10:00", "10:00", "00:30")}}), []string{"date", "5.12.2026", "UTC offset"}},
	{"date without offset", doc(map[string][]string{"A": {event(g1, "一", "A", "2026-12-05T10:00:00", "10:00", "00:30")}}), []string{"date", "UTC offset"}},
	{"bad start", doc(map[string][]string{"A": {event(g1, "一", "A", "", "25:00", "00:30")}}), []string{"start", "25:00"}},
	{"start disagrees with date", doc(map[string][]string{"A": {event(g1, "一", "A", d1, "11:00", "00:30")}}), []string{"start 11:00 disagrees"}},
	{"date outside its day", doc(map[string][]string{"A": {event(g1, "一", "A", "2026-12-06T10:00:00+08:00", "10:00", "00:30")}}), []string{"outside its day", "2026-12-05"}},
	{"room disagrees", doc(map[string][]string{"A": {event(g1, "一", "B", d1, "10:00", "00:30")}}), []string{`listed under room "A"`, `"B"`}},
	{"bad zone", strings.Replace(doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "00:30")}}), "Asia/Shanghai", "Mars/Olympus", 1), []string{"Mars/Olympus", "IANA"}},
	{"local zone", strings.Replace(doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "00:30")}}), "Asia/Shanghai", "Local", 1), []string{`"Local"`, "IANA"}},
	{"zone path", strings.Replace(doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "00:30")}}), "Asia/Shanghai", "../../etc/passwd", 1), []string{"IANA"}},
	{"bad do_not_record", strings.Replace(doc(map[string][]string{"A": {event(g1, "一", "A", d1, "10:00", "00:30")}}), `"links":[]`, `"do_not_record":"maybe","links":[]`, 1), []string{"true or false"}},
	{"xml not a schedule", `<?xml version="1.0"?><html><body/></html>`, []string{"schedule.xml", "<html>", "expected frab's <schedule>"}},
	{"xml malformed", "<schedule>\n<day>\n</schedule>", []string{"not well-formed", "line 3"}},
	{"xml too deep", "<schedule>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</schedule>", []string{"nested deeper than 32", "line 1"}},
	{"xml empty schedule", "<schedule><foo/></schedule>", []string{"neither <conference> nor <day>"}},
	{"xml room without name", `<schedule><conference/><day date="2026-12-05"><room><event guid="` + g1 + `"/></room></day></schedule>`, []string{"<room> without a name"}},
	{"xml bad guid", `<schedule><conference><time_zone_name>UTC</time_zone_name></conference><day date="2026-12-05"><room name="A">` + "\n" +
		`<event guid="x y"><date>2026-12-05T10:00:00Z</date><start>10:00</start><duration>00:30</duration><room>A</room><title>T</title></event></room></day></schedule>`, []string{"guid", `"x y"`, "line 2"}},
	{"xml entity bomb is not expanded", `<!DOCTYPE s [<!ENTITY a "aaaa">]><schedule><conference><title>&a;</title></conference></schedule>`, []string{"not well-formed", "entity"}},
}

func TestParse_Refusals(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", s)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("error is %T, want *Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParse_TooLarge(t *testing.T) {
	big := make([]byte, MaxSize+1)
	for i := range big {
		big[i] = ' '
	}
	big[0] = '{'
	_, err := Parse(big)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "10 MB") {
		t.Errorf("error %q does not name the limit", err)
	}
}

func TestParse_Pretalx(t *testing.T) {
	data, err := os.ReadFile("testdata/pretalx.json")
	if err != nil {
		t.Fatal(err)
	}
	// A BOM and white space before the JSON are tolerated.
	s, err := Parse(append([]byte("\xEF\xBB\xBF\n  "), data...))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Conference
	if c.Title != "开源社区沙龙 2026" || c.Acronym != "salon-2026" || c.TimeZoneName != "Asia/Shanghai" || c.TimeZone.String() != "Asia/Shanghai" {
		t.Errorf("conference = %+v", c)
	}
	if !slices.Equal(c.Rooms, []string{"主会场", "Workshop Room"}) {
		t.Errorf("rooms = %q", c.Rooms)
	}
	if len(c.Days) != 1 || c.Days[0].Date != "2026-12-05" || c.Days[0].Index != 1 {
		t.Errorf("days = %+v", c.Days)
	}
	if len(s.Events) != 3 {
		t.Fatalf("%d events, want 3", len(s.Events))
	}
	// Sorted by start, then room: the two 10:00 events by room name.
	e := s.Events[1]
	if e.GUID != g1 || e.Title != "开源社区的一天" || e.Room != "主会场" || e.Code != "ABCDEF" || e.ID != "101" {
		t.Errorf("event = %+v", e)
	}
	if !slices.Equal(e.Persons, []string{"张伟", "李娜"}) {
		t.Errorf("persons = %q", e.Persons)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if want := time.Date(2026, 12, 5, 10, 0, 0, 0, shanghai); !e.Start.Equal(want) || e.Duration != 45*time.Minute {
		t.Errorf("start %s, duration %s; want %s, 45m", e.Start, e.Duration, want)
	}
	if e.Abstract != "我们如何运营一个开源社区。\n第二行。" || e.Track != "社区" || e.Language != "zh" || e.DoNotRecord {
		t.Errorf("abstract %q track %q language %q dnr %v", e.Abstract, e.Track, e.Language, e.DoNotRecord)
	}
	if s.Events[0].Room != "Workshop Room" || s.Events[0].Duration != 90*time.Minute {
		t.Errorf("first event = %+v", s.Events[0])
	}
	last := s.Events[2]
	if !last.DoNotRecord || last.Track != "" || last.Description != "Longer text." || last.Persons[0] != "Wang Fang" {
		t.Errorf("last event = %+v", last)
	}
}

func TestParse_FrabXML(t *testing.T) {
	data, err := os.ReadFile("testdata/frab.xml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "1.0" || s.Conference.Acronym != "camp2026" || s.Conference.TimeZone.String() != "Europe/Berlin" {
		t.Errorf("schedule = %+v", s.Conference)
	}
	if len(s.Events) != 2 {
		t.Fatalf("%d events, want 2", len(s.Events))
	}
	e := s.Events[0]
	if e.Title != "Opening & Welcome" || e.ID != "2001" || !slices.Equal(e.Persons, []string{"Ada Lovelace", "Grace Hopper"}) || e.DoNotRecord {
		t.Errorf("event = %+v", e)
	}
	// After midnight, still on day 1; "1:00:00" is an hour; optout is do_not_record.
	n := s.Events[1]
	if n.Title != "Night Session — 夜谈" || n.Duration != time.Hour || !n.DoNotRecord || n.Persons[0] != "Jürgen Müller" {
		t.Errorf("night event = %+v", n)
	}
	if want := time.Date(2026, 8, 21, 22, 30, 0, 0, time.UTC); !n.Start.Equal(want) {
		t.Errorf("night start %s, want %s", n.Start, want)
	}
	if !slices.Equal(s.Conference.Rooms, []string{"Hall A"}) {
		t.Errorf("rooms = %q (a room without events is not a room of the programme)", s.Conference.Rooms)
	}
}

func TestParse_Text(t *testing.T) {
	for _, tc := range []struct {
		name, title, want string
	}{
		{"chinese kept", "开源社区的一天", "开源社区的一天"},
		{"nfc", "Cafe\u0301", "Café"},
		{"controls removed, breaks are spaces", "a\x00b\tc\n\nd\x7f", "ab c d"},
		{"bidi override removed", "abc\u202Egpj.exe", "abcgpj.exe"},
		{"bidi isolate removed", "\u2067שלום\u2069 x", "שלום x"},
		{"rlm kept", "עברית\u200F!", "עברית\u200F!"},
		{"trimmed and collapsed", "  a   b  ", "a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(doc(map[string][]string{"A": {event(g1, tc.title, "A", d1, "10:00", "00:30")}})))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Events[0].Title; got != tc.want {
				t.Errorf("title %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParse_Times(t *testing.T) {
	for _, tc := range []struct {
		name         string
		date, start  string
		duration     string
		wantUTC      string
		wantDuration time.Duration
	}{
		{"date with offset", d1, "10:00", "00:45", "2026-12-05T02:00:00Z", 45 * time.Minute},
		{"no date: day and zone", "", "10:00", "1:30", "2026-12-05T02:00:00Z", 90 * time.Minute},
		{"seconds", d1, "10:00", "0:45:30", "2026-12-05T02:00:00Z", 45*time.Minute + 30*time.Second},
		{"utc date", "2026-12-05T02:00:00Z", "", "00:30", "2026-12-05T02:00:00Z", 30 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(doc(map[string][]string{"A": {event(g1, "x", "A", tc.date, tc.start, tc.duration)}})))
			if err != nil {
				t.Fatal(err)
			}
			e := s.Events[0]
			if got := e.Start.UTC().Format(time.RFC3339); got != tc.wantUTC || e.Duration != tc.wantDuration {
				t.Errorf("start %s duration %s; want %s %s", got, e.Duration, tc.wantUTC, tc.wantDuration)
			}
		})
	}
}

// Back-to-back events in one room are not an overlap; the same time in two
// rooms is not either.
func TestParse_NoOverlap(t *testing.T) {
	in := doc(map[string][]string{
		"A": {event(g1, "一", "A", d1, "10:00", "00:30"), event(g2, "二", "A", d2, "10:30", "00:30")},
		"B": {event("6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0003", "三", "B", d1, "10:00", "01:00")},
	})
	s, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 3 {
		t.Fatalf("%d events", len(s.Events))
	}
}

func FuzzParse_JSON(f *testing.F) {
	if data, err := os.ReadFile("testdata/pretalx.json"); err == nil {
		f.Add(data)
	}
	for _, tc := range refusals {
		if strings.HasPrefix(strings.TrimSpace(tc.in), "{") {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data) })
}

func FuzzParse_XML(f *testing.F) {
	if data, err := os.ReadFile("testdata/frab.xml"); err == nil {
		f.Add(data)
	}
	for _, tc := range refusals {
		if strings.HasPrefix(strings.TrimSpace(tc.in), "<") {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data) })
}

// checkParse holds Parse to its promises on any input: an *Error or a
// schedule whose events are valid, unique, sorted and do not overlap, and
// that WriteJSON writes and Parse reads back the same.
func checkParse(t *testing.T, data []byte) {
	s, err := Parse(data)
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			t.Fatalf("error %T %v is not an *Error", err, err)
		}
		return
	}
	if s.Conference.TimeZone == nil {
		t.Fatal("nil time zone")
	}
	seen := map[string]bool{}
	for i, e := range s.Events {
		if !ValidGUID(e.GUID) || seen[e.GUID] {
			t.Fatalf("event %d: guid %q invalid or repeated", i, e.GUID)
		}
		seen[e.GUID] = true
		if e.Title == "" || e.Room == "" || e.Duration <= 0 || e.Duration > MaxDuration {
			t.Fatalf("event %d: %+v", i, e)
		}
		if e.Title != cleanLine(e.Title) || e.Abstract != cleanText(e.Abstract) {
			t.Fatalf("event %d: text not clean: %q", i, e.Title)
		}
		if i > 0 && e.Start.Before(s.Events[i-1].Start) {
			t.Fatalf("events not sorted at %d", i)
		}
	}
}
