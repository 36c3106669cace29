package schedule

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// SchemaURL is the C3VOC schedule schema WriteJSON follows.
const SchemaURL = "https://c3voc.de/schedule/schema.json"

// The output types follow what pretalx writes (its frab-compatible
// exporter), so that every consumer of pretalx's schedule.json — the C3VOC
// tools, voctoweb's importer, the conference apps — reads salon's too.
type outFile struct {
	Schema    string       `json:"$schema"`
	Generator outGenerator `json:"generator"`
	Schedule  outSchedule  `json:"schedule"`
}

type outGenerator struct {
	Name string `json:"name"`
}

type outSchedule struct {
	URL        string        `json:"url,omitempty"`
	Version    string        `json:"version"`
	Conference outConference `json:"conference"`
}

type outConference struct {
	Acronym          string    `json:"acronym"`
	Title            string    `json:"title"`
	Start            string    `json:"start,omitempty"`
	End              string    `json:"end,omitempty"`
	DaysCount        int       `json:"daysCount"`
	TimeslotDuration string    `json:"timeslot_duration"`
	TimeZoneName     string    `json:"time_zone_name,omitempty"`
	URL              string    `json:"url,omitempty"`
	Rooms            []outRoom `json:"rooms"`
	Days             []outDay  `json:"days"`
}

type outRoom struct {
	Name string `json:"name"`
	GUID string `json:"guid"`
}

type outDay struct {
	Index    int      `json:"index"`
	Date     string   `json:"date"`
	DayStart string   `json:"day_start"`
	DayEnd   string   `json:"day_end"`
	Rooms    outRooms `json:"rooms"`
}

// outRooms is the day's {"ROOM":[event…]} in the conference's room order
// (encoding/json would sort a map's keys).
type outRooms struct {
	names  []string
	events map[string][]outEvent
}

func (r outRooms) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range r.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		v, err := json.Marshal(r.events[name])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type outEvent struct {
	GUID             string      `json:"guid"`
	Code             string      `json:"code,omitempty"`
	ID               int64       `json:"id"`
	Logo             *string     `json:"logo"`
	Date             string      `json:"date"`
	Start            string      `json:"start"`
	Duration         string      `json:"duration"`
	Room             string      `json:"room"`
	Slug             string      `json:"slug"`
	URL              string      `json:"url"`
	Title            string      `json:"title"`
	Subtitle         string      `json:"subtitle"`
	Track            *string     `json:"track"`
	Type             string      `json:"type"`
	Language         string      `json:"language"`
	Abstract         string      `json:"abstract"`
	Description      string      `json:"description"`
	RecordingLicense string      `json:"recording_license"`
	DoNotRecord      bool        `json:"do_not_record"`
	Persons          []outPerson `json:"persons"`
	Links            []outLink   `json:"links"`
	Attachments      []outLink   `json:"attachments"`
}

// outPerson carries the name twice, as pretalx does: "name" for the
// current schema, "public_name" for frab-era readers.
type outPerson struct {
	Name       string `json:"name"`
	PublicName string `json:"public_name"`
}

type outLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
	Type  string `json:"type"`
}

// WriteJSON writes s as a C3VOC schedule.json. Days are the events' dates
// in the conference's zone; times are written in that zone. An empty
// Version becomes a hash of the content, so that it changes exactly when
// the programme does.
func WriteJSON(w io.Writer, s *Schedule) error {
	loc := s.Conference.TimeZone
	if loc == nil {
		loc = time.UTC
	}
	c := s.Conference
	out := outFile{
		Schema:    SchemaURL,
		Generator: outGenerator{Name: "salon"},
		Schedule: outSchedule{
			Version: s.Version,
			Conference: outConference{
				Acronym:          cmp.Or(c.Acronym, "salon"),
				Title:            cmp.Or(c.Title, "salon"),
				TimeslotDuration: "00:05",
				TimeZoneName:     c.TimeZoneName,
				URL:              c.URL,
				Rooms:            []outRoom{},
				Days:             []outDay{},
			},
		},
	}
	oc := &out.Schedule.Conference
	if oc.TimeZoneName == "" {
		oc.TimeZoneName = ZoneName(loc)
	}
	rooms := slices.Clone(c.Rooms)
	for _, e := range s.Events {
		if !slices.Contains(rooms, e.Room) {
			rooms = append(rooms, e.Room)
		}
	}
	for _, r := range rooms {
		oc.Rooms = append(oc.Rooms, outRoom{Name: r, GUID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("salon:room:"+r)).String()})
	}

	events := slices.Clone(s.Events)
	slices.SortStableFunc(events, func(a, b Event) int { return a.Start.Compare(b.Start) })
	var day *outDay
	var dayEnd time.Time
	for _, e := range events {
		start := e.Start.In(loc)
		date := start.Format(time.DateOnly)
		if day == nil || day.Date != date {
			if day != nil {
				day.DayEnd = dayEnd.Format(time.RFC3339)
			}
			oc.Days = append(oc.Days, outDay{
				Index: len(oc.Days) + 1, Date: date, DayStart: start.Format(time.RFC3339),
				Rooms: outRooms{names: rooms, events: map[string][]outEvent{}},
			})
			day = &oc.Days[len(oc.Days)-1]
			dayEnd = time.Time{}
		}
		if end := e.End().In(loc); end.After(dayEnd) {
			dayEnd = end
		}
		day.Rooms.events[e.Room] = append(day.Rooms.events[e.Room], outEventOf(e, start))
	}
	if day != nil {
		day.DayEnd = dayEnd.Format(time.RFC3339)
	}
	for i := range oc.Days {
		d := &oc.Days[i]
		for _, r := range rooms {
			if d.Rooms.events[r] == nil {
				d.Rooms.events[r] = []outEvent{} // every room, as pretalx does
			}
		}
	}
	oc.DaysCount = len(oc.Days)
	if len(oc.Days) > 0 {
		oc.Start, oc.End = oc.Days[0].Date, oc.Days[len(oc.Days)-1].Date
	}
	if out.Schedule.Version == "" {
		b, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode schedule: %w", err)
		}
		h := fnv.New64a()
		h.Write(b)
		out.Schedule.Version = strconv.FormatUint(h.Sum64(), 36)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write schedule.json: %w", err)
	}
	return nil
}

func outEventOf(e Event, start time.Time) outEvent {
	o := outEvent{
		GUID:        e.GUID,
		Code:        e.Code,
		ID:          eventID(e),
		Date:        start.Format(time.RFC3339),
		Start:       start.Format("15:04"),
		Duration:    formatDuration(e.Duration),
		Room:        e.Room,
		Slug:        e.Slug,
		URL:         e.URL,
		Title:       e.Title,
		Subtitle:    e.Subtitle,
		Type:        cmp.Or(e.Type, "Talk"),
		Language:    e.Language,
		Abstract:    e.Abstract,
		Description: e.Description,
		DoNotRecord: e.DoNotRecord,
		Persons:     []outPerson{},
		Links:       outLinks(e.Links),
		Attachments: outLinks(e.Attachments),
	}
	if e.Track != "" {
		o.Track = &e.Track
	}
	for _, p := range e.Persons {
		o.Persons = append(o.Persons, outPerson{Name: p, PublicName: p})
	}
	return o
}

func outLinks(links []Link) []outLink {
	out := make([]outLink, 0, len(links))
	for _, l := range links {
		out = append(out, outLink{Title: l.Title, URL: l.URL, Type: cmp.Or(l.Type, "related")})
	}
	return out
}

// eventID is the event's numeric id, or one made from its guid (the schema
// requires a positive integer; consumers match by guid).
func eventID(e Event) int64 {
	if n, err := strconv.ParseInt(e.ID, 10, 64); err == nil && n > 0 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(e.GUID))
	return int64(h.Sum32()&0x7fffffff) + 1
}

// formatDuration writes hours and minutes, "01:30" (seconds rounded).
func formatDuration(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}
