package web

import (
	"net/http"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/i18n"
)

// roomHandlers serve the room's projector screen, its state and its QR
// code; the live page shows its sponsors between talks.
type roomHandlers struct {
	talks    talkLister // optional: without it the room shows no talk
	sponsors *sponsorHandlers
	*responder
	*renderer
	*eventZone
}

// talkLister lists the talks.
type talkLister interface {
	List() []archive.Talk
}

func (s *roomHandlers) register(rt *router) {
	rt.handle("GET /live/{stage}/room", s.handleRoomPage)
	rt.handle("GET /live/{stage}/room.json", s.handleRoomJSON)
	rt.handle("GET /live/{stage}/room/qr.png", s.handleRoomQR)
}

// extrasData is what the console's talk page and the room screen add to
// pageData.
type extrasData struct {
	Talk adminTalkData
	Room roomJSON
}

// roomTalk is a talk as the room screen shows it.
type roomTalk struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Speakers string `json:"speakers"`
	// Starts and Ends are the schedule in the event's zone ("10:30"), empty
	// when unknown.
	Starts string `json:"starts"`
	Ends   string `json:"ends"`
	// Day is set when the talk is not today ("Sat 3 Dec").
	Day string `json:"day,omitempty"`
}

// roomSponsor is a sponsor's logo for the room screen and the live page.
type roomSponsor struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// roomJSON is the room screen's state (GET /live/{stage}/room.json):
// the talk on stage, the next one, the address the QR code leads to, and
// the sponsors shown between talks.
type roomJSON struct {
	Stage    string        `json:"stage"`
	Now      *roomTalk     `json:"now"`
	Next     *roomTalk     `json:"next"`
	JoinURL  string        `json:"join_url"`
	Sponsors []roomSponsor `json:"sponsors"`
}

// room works out the room screen's state for stage. A hidden talk is never
// "next" and never the QR code's target (its page is not public); a live
// one still shows as on stage, since it is happening in the room.
func (s *roomHandlers) room(r *http.Request, stage string) roomJSON {
	out := roomJSON{Stage: stage, Sponsors: s.sponsors.sponsorList(), JoinURL: s.absURL(r, "/live/"+stage)}
	if s.talks == nil {
		return out
	}
	now := time.Now()
	var next *archive.Talk
	for _, t := range s.talks.List() {
		if t.Stage != stage {
			continue
		}
		if t.Live() {
			out.Now = s.roomTalk(r, t, now)
			if !t.Hidden {
				out.JoinURL = s.absURL(r, "/talks/"+t.ID)
			}
			continue
		}
		if t.Recording != nil || t.Hidden || t.StartsAt.IsZero() || t.StartsAt.Before(now.Add(-12*time.Hour)) {
			continue
		}
		if next == nil || t.StartsAt.Before(next.StartsAt) {
			next = &t
		}
	}
	if next != nil {
		out.Next = s.roomTalk(r, *next, now)
	}
	return out
}

// roomTalk is t for the room screen, its times in the event's zone and the
// request's language (room.json answers in the page's language too).
func (s *roomHandlers) roomTalk(r *http.Request, t archive.Talk, now time.Time) *roomTalk {
	rt := &roomTalk{ID: t.ID, Title: t.Title, Speakers: speakerNames(t.Speakers, s.tr(r).T("list.sep"))}
	// The event's zone: -timezone, else the schedule's, else the machine's
	// (Server.Location alone is nil without -timezone).
	loc := s.location()
	if !t.StartsAt.IsZero() {
		st := t.StartsAt.In(loc)
		rt.Starts = st.Format("15:04")
		if y, m, d := st.Date(); y != now.In(loc).Year() || m != now.In(loc).Month() || d != now.In(loc).Day() {
			rt.Day = s.tr(r).Date(t.StartsAt, loc, i18n.DayShort)
		}
	}
	if !t.EndsAt.IsZero() {
		rt.Ends = t.EndsAt.In(loc).Format("15:04")
	}
	return rt
}

// handleRoomPage is the room's projector screen (/live/{stage}/room):
// now and next, a QR code to the talk's page so the room asks and votes
// from phones in the same queue as remote viewers, the question the
// organiser put on screen, and the sponsors between talks.
func (s *roomHandlers) handleRoomPage(w http.ResponseWriter, r *http.Request) {
	name, ok := s.stagePage(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "room.html", pageData{
		Title:     s.tr(r).T("room.title", "Stage", name),
		StageName: name,
		Admin:     adminData{Zone: s.zoneName()}, // for the clock; no session
		Extras:    extrasData{Room: s.room(r, name)},
	})
}

func (s *roomHandlers) handleRoomJSON(w http.ResponseWriter, r *http.Request) {
	name, ok := s.stageAPI(w, r)
	if !ok {
		return
	}
	w.Header().Add("Vary", "Accept-Language, Cookie") // "day" is in the reader's language
	s.writeJSON(w, http.StatusOK, s.room(r, name))
}

// handleRoomQR draws the QR code the room screen shows: the page of the
// talk on stage, or the stage's live page between talks. The address comes
// from the server's state; the query string (the page adds ?for=talk to
// refresh the image) is ignored.
func (s *roomHandlers) handleRoomQR(w http.ResponseWriter, r *http.Request) {
	name, ok := s.stageAPI(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	s.writeQR(w, s.room(r, name).JoinURL, 640)
}

// stageAPI is the stage an API route names, or a JSON 404 for a bad name.
func (s *roomHandlers) stageAPI(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("stage")
	if !stream.ValidStage(name) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1-64 of a-z, 0-9 and -")
		return "", false
	}
	return name, true
}
