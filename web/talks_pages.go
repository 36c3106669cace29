package web

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/salon/salon/archive"
)

// talkDay is one event day of the replay library on the home page.
type talkDay struct {
	Day   string
	Talks []talkJSON
}

// homeTalks splits the programme for the home page: live now, upcoming
// (scheduled, not yet recorded, soonest first) and replays by event day
// (newest day first).
func (s *pageHandlers) homeTalks() (live, upcoming []talkJSON, replays []talkDay) {
	if s.talks == nil {
		return nil, nil, nil
	}
	byDay := map[string][]talkJSON{}
	for _, t := range s.visibleTalks(nil, s.talks.List()) {
		tj := s.talkJSON(t)
		switch {
		case tj.IsLive:
			live = append(live, tj)
		case tj.Ended && t.DoNotRecord:
			// never published: no replay to list
		case tj.Ended:
			day := t.Recording.Start.UTC().Format("Monday 2 January 2006")
			byDay[day] = append(byDay[day], tj)
		default:
			upcoming = append(upcoming, tj)
		}
	}
	for day, ts := range byDay {
		replays = append(replays, talkDay{Day: day, Talks: ts})
	}
	sort.Slice(replays, func(i, j int) bool {
		return replays[i].Talks[0].Recording.Start.After(replays[j].Talks[0].Recording.Start)
	})
	return live, upcoming, replays
}

func speakerNames(sp []archive.Speaker) string {
	names := make([]string, 0, len(sp))
	for _, s := range sp {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// formatDuration writes a talk's length for people: "45 s", "28 min",
// "1 h 05 min".
func formatDuration(secs float64) string {
	d := time.Duration(secs) * time.Second
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Round(time.Minute).Minutes())) + " min"
	default:
		m := int(d.Round(time.Minute).Minutes())
		return fmt.Sprintf("%d h %02d min", m/60, m%60)
	}
}

func formatWhen(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("Mon 2 Jan 15:04 UTC")
}

func (s *pageHandlers) handleTalkPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.talks == nil {
		s.pageError(w, r, http.StatusNotFound, "No replay library", "This salon has no replay library configured.")
		return
	}
	t, err := s.talks.Get(id)
	if err != nil || s.hiddenFrom(r, id) {
		s.pageError(w, r, http.StatusNotFound, "No such talk", "There is no talk at this address. It may have been renamed or removed.")
		return
	}
	tj := s.talkJSON(t)
	// Before and during the talk, its page has the stage's live chat (people
	// gather before it starts); after, the talk's chat replayed with the video.
	panel := chatPanel{Stage: t.Stage, Mode: "live", ReplayURL: "/talks/" + t.ID + "/chat.json"}
	if tj.Ended {
		panel.Mode = "replay"
	}
	s.render(w, http.StatusOK, "talk.html", pageData{Title: t.Title, Talk: tj, Chat: panel, Nav: parseDeepLink(r.URL.Query())})
}
