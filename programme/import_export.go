package programme

import (
	"cmp"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/schedule"
)

// ImportExportOptions describe the day for ImportedSchedule.
type ImportExportOptions struct {
	Title   string
	Acronym string
	// TimeZone is the event's zone (-timezone, else the schedule's); times
	// are written in it. Default UTC.
	TimeZone *time.Location
	// Rooms is the room → stage mapping of the import: a stage is written as
	// the room that maps to it (the first by name when several do), else
	// under its own name.
	Rooms map[string]string
	// URL makes a path ("/talks/x") into the URL consumers follow; web
	// passes its PublicURL joiner. Default: the path itself.
	URL func(path string) string
}

// importDefaultLength is the length written for a talk with a start and no
// end (made by hand) that has no ended recording to measure either.
const importDefaultLength = 30 * time.Minute

// ImportedSchedule is the programme as a schedule, for GET /schedule.json
// and /schedule.ics: every talk with a start time that is not hidden, with its title,
// speakers, stage (as its room), guid, slug and do_not_record. A talk made
// by hand gets a guid derived from its page URL (a name-based UUID, stable
// across requests). Each ended talk that may be published links to its
// replay:
//   - links (pretalx writes web pages there): the replay page
//     /talks/{id} and the HLS playlist /archive/talks/{id}/index.m3u8,
//   - attachments (pretalx writes files there): the MP4
//     /talks/{id}/download.mp4 and the talk's slide files,
//
// each with type "recording" or "slides", so a site or pretalx can link
// the recordings without knowing salon's URL layout.
func ImportedSchedule(talks []archive.Talk, o ImportExportOptions) *schedule.Schedule {
	if o.URL == nil {
		o.URL = func(p string) string { return p }
	}
	zone := cmp.Or(o.TimeZone, time.UTC)
	roomOf := map[string]string{}
	for _, room := range slices.Sorted(maps.Keys(o.Rooms)) {
		if st := o.Rooms[room]; roomOf[st] == "" {
			roomOf[st] = room
		}
	}
	s := &schedule.Schedule{Conference: schedule.Conference{
		Title:    o.Title,
		Acronym:  o.Acronym,
		TimeZone: zone,
	}}
	s.Conference.TimeZoneName = schedule.ZoneName(zone)
	for _, t := range talks {
		if t.StartsAt.IsZero() {
			continue // a calendar needs a time
		}
		if t.Hidden {
			continue // withdrawn from the public (the export is public)
		}
		page := o.URL("/talks/" + t.ID)
		e := schedule.Event{
			GUID:        t.GUID,
			Slug:        cmp.Or(t.Slug, t.ID),
			Title:       t.Title,
			Abstract:    t.Abstract,
			Room:        cmp.Or(roomOf[t.Stage], t.Stage),
			Track:       t.Track,
			Language:    t.Language,
			Start:       t.StartsAt.In(zone),
			DoNotRecord: t.DoNotRecord,
			URL:         page,
			Type:        "Talk",
		}
		if e.GUID == "" {
			e.GUID = uuid.NewSHA1(uuid.NameSpaceURL, []byte(page)).String()
		}
		switch {
		case t.EndsAt.After(t.StartsAt):
			e.Duration = t.EndsAt.Sub(t.StartsAt)
		case t.HasEnded() && t.Recording.End.After(t.Recording.Start):
			e.Duration = t.Recording.End.Sub(t.Recording.Start).Round(time.Minute)
		default:
			e.Duration = importDefaultLength
		}
		for _, sp := range t.Speakers {
			e.Persons = append(e.Persons, sp.Name)
		}
		if t.HasEnded() && !t.DoNotRecord {
			e.Links = []schedule.Link{
				{Title: "Replay", URL: page, Type: "recording"},
				{Title: "HLS playlist", URL: o.URL("/archive/talks/" + t.ID + "/index.m3u8"), Type: "recording"},
			}
			e.Attachments = []schedule.Link{{Title: "MP4", URL: o.URL("/talks/" + t.ID + "/download.mp4"), Type: "recording"}}
		}
		for _, sl := range t.Slides {
			e.Attachments = append(e.Attachments, schedule.Link{Title: sl.Name, URL: o.URL("/archive/talks/" + t.ID + "/slides/" + url.PathEscape(sl.Name)), Type: "slides"})
		}
		s.Events = append(s.Events, e)
	}
	slices.SortFunc(s.Events, func(a, b schedule.Event) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.Room, b.Room), strings.Compare(a.GUID, b.GUID))
	})
	return s
}
