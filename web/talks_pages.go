package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/i18n"
)

// talkDay is one event day of the replay library on the home page.
type talkDay struct {
	Day   string
	Talks []talkJSON
}

// homeTalks splits the programme for the home page: live now, upcoming
// (scheduled, not yet recorded, soonest first) and replays by event day
// (newest day first).
func (s *pageHandlers) homeTalks(l *i18n.Localizer) (live, upcoming []talkJSON, replays []talkDay) {
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
			day := l.Date(t.Recording.Start, s.zone.location(), i18n.LongDay)
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

// speakerNames lists a talk's speakers, joined the way sep's language joins
// names (", " · "、").
func speakerNames(sp []archive.Speaker, sep string) string {
	names := make([]string, 0, len(sp))
	for _, s := range sp {
		names = append(names, s.Name)
	}
	return strings.Join(names, sep)
}

// formatDuration writes a talk's length for people: "45 s", "28 min",
// "1 h 05 min" ("45 秒", "28 分钟", "1 小时 05 分钟").
func formatDuration(l *i18n.Localizer, secs float64) string {
	d := time.Duration(secs) * time.Second
	switch {
	case d < time.Minute:
		return l.T("dur.seconds", "S", int(d.Seconds()))
	case d < time.Hour:
		return l.T("dur.minutes", "M", int(d.Round(time.Minute).Minutes()))
	default:
		m := int(d.Round(time.Minute).Minutes())
		return l.T("dur.hours", "H", m/60, "M", fmt.Sprintf("%02d", m%60))
	}
}

func (s *pageHandlers) handleTalkPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.talks == nil {
		s.pageError(w, r, http.StatusNotFound, "err.noLibrary", "err.noLibrary.help")
		return
	}
	t, err := s.talks.Get(id)
	if err != nil || s.hiddenFrom(r, id) {
		s.pageError(w, r, http.StatusNotFound, "err.noTalk", "err.noTalk.help")
		return
	}
	tj := s.talkJSON(t)
	// Before and during the talk, its page has the stage's live chat (people
	// gather before it starts); after, the talk's chat replayed with the video.
	panel := chatPanel{Stage: t.Stage, Mode: "live", ReplayURL: "/talks/" + t.ID + "/chat.json"}
	if tj.Ended {
		panel.Mode = "replay"
	}
	s.render(w, r, http.StatusOK, "talk.html", pageData{Title: t.Title, Talk: tj, Chat: panel, Nav: parseDeepLink(r.URL.Query())})
}
