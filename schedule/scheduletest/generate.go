// Package scheduletest generates schedules for tests and benchmarks: a
// conference of any size in both formats, with Chinese titles and names.
package scheduletest

import (
	"bytes"
	"fmt"
	"html"
	"time"

	"github.com/salon/salon/schedule"
)

// Generate makes a conference of n events: 20 rooms with Chinese
// and ASCII names, 3 days, 45-minute slots, two speakers each, a Chinese
// title and a paragraph of abstract — a big conference's size at n=1000.
func Generate(n int) *schedule.Schedule {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	s := &schedule.Schedule{Version: "bench", Conference: schedule.Conference{Acronym: "bench", Title: "大会", TimeZoneName: "Asia/Shanghai", TimeZone: shanghai}}
	rooms := 20
	perDay := (n + rooms*3 - 1) / (rooms * 3)
	for i := 0; i < n; i++ {
		room, slot := i%rooms, i/rooms
		day, k := slot/perDay, slot%perDay
		s.Events = append(s.Events, schedule.Event{
			GUID:     fmt.Sprintf("6f1c6b0e-2d52-5d1f-8a55-%012d", i),
			ID:       fmt.Sprint(i + 1),
			Slug:     fmt.Sprintf("bench-%d-talk", i+1),
			Title:    fmt.Sprintf("第%d场：开源社区的一天 Talk %d", i+1, i+1),
			Abstract: "我们如何运营一个开源社区，以及从中学到的经验。We share what we learned running a community for ten years.",
			Room:     fmt.Sprintf("会场 %d Room", room+1),
			Track:    "社区",
			Language: "zh",
			Persons:  []string{fmt.Sprintf("张伟%d", i), "Li Na"},
			Start:    time.Date(2026, 12, 5+day, 8, 0, 0, 0, shanghai).Add(time.Duration(k) * 50 * time.Minute),
			Duration: 45 * time.Minute,
		})
	}
	return s
}

// JSON is Generate(n) as a pretalx-style schedule.json.
func JSON(n int) []byte {
	var buf bytes.Buffer
	if err := schedule.WriteJSON(&buf, Generate(n)); err != nil {
		panic(err) // writing to memory does not fail
	}
	return buf.Bytes()
}

// XML is Generate(n) as frab's schedule.xml.
func XML(n int) []byte {
	s := Generate(n)
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<schedule><version>bench</version><conference><acronym>bench</acronym><title>大会</title><time_zone_name>Asia/Shanghai</time_zone_name></conference>\n")
	day := ""
	for _, e := range s.Events {
		d := e.Start.Format(time.DateOnly)
		if d != day {
			if day != "" {
				b.WriteString("</day>\n")
			}
			day = d
			fmt.Fprintf(&b, "<day index=\"1\" date=\"%s\">\n", d)
		}
		fmt.Fprintf(&b, `<room name="%s"><event guid="%s" id="%s"><date>%s</date><start>%s</start><duration>00:45</duration><room>%s</room><slug>%s</slug><title>%s</title><track>%s</track><language>zh</language><abstract>%s</abstract><persons><person id="1">%s</person><person id="2">%s</person></persons><recording><optout>false</optout></recording></event></room>`+"\n",
			html.EscapeString(e.Room), e.GUID, e.ID, e.Start.Format(time.RFC3339), e.Start.Format("15:04"), html.EscapeString(e.Room), e.Slug,
			html.EscapeString(e.Title), e.Track, html.EscapeString(e.Abstract), e.Persons[0], e.Persons[1])
	}
	b.WriteString("</day>\n</schedule>\n")
	return b.Bytes()
}
