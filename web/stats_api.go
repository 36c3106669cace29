package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/stats"
)

// statsHandlers serve the organiser's statistics (stats_page.go: the page).
type statsHandlers struct {
	stats      statsReader // optional: the API answers 503 without it
	talks      talkReader  // optional
	chatCounts chatCountCache
	log        *slog.Logger
	*chatHistory
	*responder
	*renderer
	*auth
	*eventZone
}

// statsReader reads the day's numbers.
type statsReader interface {
	DateOf(t time.Time) string
	Days() []string
	Day(date string) (stats.Day, bool)
	Talk(id string) stats.Totals
}

// register registers the organiser's statistics: the day and one talk
// as JSON or CSV (admin), and the page that charts them.
func (s *statsHandlers) register(rt *router) {
	rt.handle("GET /api/stats", s.handleStats)
	rt.handle("GET /api/talks/{id}/stats", s.handleTalkStats)
	rt.handle("GET /admin/stats", s.handleStatsPage)
}

// statsNumbers are the numbers of the contract (DESIGN, "Statistics"),
// for a talk or the day.
type statsNumbers struct {
	LiveViewersUnique   int           `json:"live_viewers_unique"`
	LiveViewersPeak     int           `json:"live_viewers_peak"`
	LiveViewersPeakAt   *time.Time    `json:"live_viewers_peak_at,omitempty"`
	ReplayViewersUnique int           `json:"replay_viewers_unique"`
	ChatMessages        int           `json:"chat_messages"`
	Questions           int           `json:"questions"`
	QuestionsAnswered   int           `json:"questions_answered"`
	Downloads           int           `json:"downloads"`
	DownloadsSlides     int           `json:"downloads_slides"`
	DownloadsMP4        int           `json:"downloads_mp4"`
	Viewers             []stats.Point `json:"viewers"`
	// ChatUnavailable: a talk's chat could not be read (the bucket did not
	// answer); its chat numbers are missing, not zero.
	ChatUnavailable bool `json:"chat_unavailable,omitempty"`
}

func numbersOf(t stats.Totals, c chatCounts, viewers []stats.Point) statsNumbers {
	n := statsNumbers{
		LiveViewersUnique:   t.LiveViewersUnique,
		LiveViewersPeak:     t.LiveViewersPeak,
		ReplayViewersUnique: t.ReplayViewersUnique,
		ChatMessages:        c.Messages,
		Questions:           c.Questions,
		QuestionsAnswered:   c.Answered,
		Downloads:           t.DownloadsSlides + t.DownloadsMP4,
		DownloadsSlides:     t.DownloadsSlides,
		DownloadsMP4:        t.DownloadsMP4,
		Viewers:             viewers,
		ChatUnavailable:     c.Unavailable,
	}
	if !t.LiveViewersPeakAt.IsZero() {
		at := t.LiveViewersPeakAt
		n.LiveViewersPeakAt = &at
	}
	return n
}

// talkStatsJSON is one talk's numbers with what names it.
type talkStatsJSON struct {
	ID       string     `json:"id"`
	Title    string     `json:"title"`
	Stage    string     `json:"stage"`
	Speakers []string   `json:"speakers"`
	Start    *time.Time `json:"start,omitempty"`
	End      *time.Time `json:"end,omitempty"`
	Live     bool       `json:"live"`
	statsNumbers
}

// stageStatsJSON is one stage's live numbers for the day.
type stageStatsJSON struct {
	Stage             string        `json:"stage"`
	LiveViewersUnique int           `json:"live_viewers_unique"`
	LiveViewersPeak   int           `json:"live_viewers_peak"`
	Viewers           []stats.Point `json:"viewers"`
}

// dayStatsJSON is GET /api/stats.
type dayStatsJSON struct {
	Date string `json:"date"`
	// Days are the dates with numbers, for ?date=.
	Days []string `json:"days"`
	statsNumbers
	Stages []stageStatsJSON `json:"stages"`
	Talks  []talkStatsJSON  `json:"talks"`
}

// statsFormat reads ?format= (json or csv) and ?table= (talks or viewers,
// for CSV); false when it answered 400.
func (s *statsHandlers) statsFormat(w http.ResponseWriter, r *http.Request) (format, table string, ok bool) {
	q := r.URL.Query()
	format, table = cmp.Or(q.Get("format"), "json"), cmp.Or(q.Get("table"), "talks")
	if format != "json" && format != "csv" {
		s.jsonError(w, http.StatusBadRequest, "format must be json (the default) or csv")
		return "", "", false
	}
	if table != "talks" && table != "viewers" {
		s.jsonError(w, http.StatusBadRequest, "table must be talks (the default: one row per talk) or viewers (one row per minute)")
		return "", "", false
	}
	return format, table, true
}

// handleStats is GET /api/stats[?date=YYYY-MM-DD][&format=csv[&table=viewers]] (admin).
func (s *statsHandlers) handleStats(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	format, table, ok := s.statsFormat(w, r)
	if !ok {
		return
	}
	if s.stats == nil {
		s.jsonError(w, http.StatusServiceUnavailable, "statistics are off on this server")
		return
	}
	date := r.URL.Query().Get("date")
	if date != "" {
		if _, err := time.Parse("2006-01-02", date); err != nil {
			s.jsonError(w, http.StatusBadRequest, "date must look like 2026-12-02")
			return
		}
	}
	d, ok := s.stats.Day(date)
	if !ok {
		s.jsonError(w, http.StatusNotFound, "no numbers for "+date+": salon counted nothing that day")
		return
	}
	out := s.dayStats(r.Context(), d)
	if format == "csv" {
		writeCSVHeaders(w, "salon-stats-"+d.Date+"-"+table+".csv")
		if table == "viewers" {
			writeDayViewersCSV(w, out)
		} else {
			writeTalksCSV(w, out.Talks, &out)
		}
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// handleTalkStats is GET /api/talks/{id}/stats[?format=csv[&table=viewers]]
// (admin): the talk's numbers over every day kept.
func (s *statsHandlers) handleTalkStats(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	format, table, ok := s.statsFormat(w, r)
	if !ok {
		return
	}
	if s.stats == nil || s.talks == nil {
		s.jsonError(w, http.StatusServiceUnavailable, "statistics are off on this server")
		return
	}
	id := r.PathValue("id")
	if !archive.ValidTalkID(id) {
		s.jsonError(w, http.StatusBadRequest, "talk ids are 1-64 of a-z, 0-9 and -")
		return
	}
	t, err := s.talks.Get(id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	out := s.talkStats(r.Context(), t, s.stats.Talk(t.ID))
	if format == "csv" {
		writeCSVHeaders(w, "salon-stats-"+t.ID+"-"+table+".csv")
		if table == "viewers" {
			writeSeriesCSV(w, []string{"at", "viewers"}, out.Viewers, nil)
		} else {
			writeTalksCSV(w, []talkStatsJSON{out}, nil)
		}
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// dayStats joins the counter's day with the talks it concerns and their
// chat. The day's chat numbers are those of the talks held that day.
func (s *statsHandlers) dayStats(ctx context.Context, d stats.Day) dayStatsJSON {
	out := dayStatsJSON{Date: d.Date, Days: s.stats.Days(), Stages: []stageStatsJSON{}, Talks: []talkStatsJSON{}}
	var dayChat chatCounts
	for _, t := range s.dayTalks(d) {
		ts := s.talkStats(ctx, t, d.Talks[t.ID])
		if t.Recording != nil && s.stats.DateOf(t.Recording.Start) == d.Date {
			dayChat.Messages += ts.ChatMessages
			dayChat.Questions += ts.Questions
			dayChat.Answered += ts.QuestionsAnswered
			dayChat.Unavailable = dayChat.Unavailable || ts.ChatUnavailable
		}
		out.Talks = append(out.Talks, ts)
	}
	var from, to time.Time
	if len(d.Viewers) > 0 {
		from, to = d.Viewers[0].At, d.Viewers[len(d.Viewers)-1].At
	}
	out.statsNumbers = numbersOf(d.Totals, dayChat, stats.Fill(d.Viewers, from, to))
	for _, name := range slices.Sorted(maps.Keys(d.Stages)) {
		st := d.Stages[name]
		out.Stages = append(out.Stages, stageStatsJSON{
			Stage: name, LiveViewersUnique: st.LiveViewersUnique, LiveViewersPeak: st.LiveViewersPeak,
			Viewers: stats.Fill(st.Viewers, from, to),
		})
	}
	return out
}

// dayTalks are the talks of day d: held that day (recording started or
// scheduled), or counted that day (a replay watched), in order of start.
// A talk counted but since deleted keeps its id.
func (s *statsHandlers) dayTalks(d stats.Day) []archive.Talk {
	var out []archive.Talk
	seen := map[string]bool{}
	if s.talks != nil {
		for _, t := range s.talks.List() {
			_, counted := d.Talks[t.ID]
			held := t.Recording != nil && s.stats.DateOf(t.Recording.Start) == d.Date ||
				t.Recording == nil && !t.StartsAt.IsZero() && s.stats.DateOf(t.StartsAt) == d.Date
			if counted || held {
				out = append(out, t)
				seen[t.ID] = true
			}
		}
	}
	for id := range d.Talks {
		if !seen[id] {
			out = append(out, archive.Talk{ID: id, Title: id})
		}
	}
	slices.SortFunc(out, func(a, b archive.Talk) int {
		return cmp.Or(talkStart(a).Compare(talkStart(b)), cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// talkStart is when a talk began, else when it is scheduled to.
func talkStart(t archive.Talk) time.Time {
	if t.Recording != nil {
		return t.Recording.Start
	}
	return t.StartsAt
}

// talkStats is t's numbers n with its chat and a series over its window.
func (s *statsHandlers) talkStats(ctx context.Context, t archive.Talk, n stats.Totals) talkStatsJSON {
	out := talkStatsJSON{ID: t.ID, Title: t.Title, Stage: t.Stage, Speakers: []string{}, Live: t.Live()}
	for _, sp := range t.Speakers {
		out.Speakers = append(out.Speakers, sp.Name)
	}
	var from, to time.Time
	switch {
	case t.Recording != nil:
		from = t.Recording.Start
		to = time.Now()
		if t.Recording.End != nil {
			to = *t.Recording.End
		}
	case !t.StartsAt.IsZero():
		from, to = t.StartsAt, t.EndsAt
	}
	if !from.IsZero() {
		out.Start = &from
	}
	if !to.IsZero() && (t.Recording == nil || t.Recording.End != nil) {
		out.End = &to
	}
	var c chatCounts
	if t.Recording != nil {
		c = s.chatCountsOf(ctx, t)
	}
	series := n.Viewers
	if t.Recording != nil {
		// The window's end is exclusive: a talk that stopped at 09:55:00
		// has no minute 09:55.
		series = stats.Fill(series, from, to.Add(-time.Nanosecond))
	} else {
		series = stats.Fill(series, time.Time{}, time.Time{})
	}
	out.statsNumbers = numbersOf(n, c, series)
	return out
}

// chatCounts are a talk's chat numbers: messages not deleted (questions
// among them), questions, questions answered.
type chatCounts struct {
	Messages, Questions, Answered int
	Unavailable                   bool
}

// chatCountsOf counts a talk's chat from its log — the archived
// chat.jsonl once it ended, the stage's journal while it runs — so the
// numbers survive restarts, leave deleted messages out and follow answers
// marked later, with nothing added to the chat's hot path. Kept for
// chatReplayTTL: the stats page reloads every half minute.
func (s *statsHandlers) chatCountsOf(ctx context.Context, t archive.Talk) chatCounts {
	window := ""
	if t.Recording != nil {
		window = t.Recording.Start.String()
		if t.Recording.End != nil {
			window += "/" + t.Recording.End.String()
		}
	}
	if c, ok := s.chatCounts.get(t.ID, window); ok {
		return c
	}
	msgs, err := s.talkMessages(ctx, t)
	if err != nil {
		s.log.Warn("stats: the talk's chat could not be read; its chat numbers are left out", "talk", t.ID, "error", err)
		return chatCounts{Unavailable: true}
	}
	var c chatCounts
	for _, m := range msgs {
		if m.Deleted {
			continue
		}
		c.Messages++
		if m.Question {
			c.Questions++
			if m.Answered {
				c.Answered++
			}
		}
	}
	s.chatCounts.put(t.ID, window, c)
	return c
}

// chatCountCache keeps each talk's chat counts for chatReplayTTL, keyed by
// its recording window. mu guards entries.
type chatCountCache struct {
	mu      sync.Mutex
	entries map[string]chatCountEntry
}

type chatCountEntry struct {
	window  string
	c       chatCounts
	expires time.Time
}

func (cc *chatCountCache) get(id, window string) (chatCounts, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.entries[id]
	if !ok || e.window != window || time.Now().After(e.expires) {
		return chatCounts{}, false
	}
	return e.c, true
}

func (cc *chatCountCache) put(id, window string, c chatCounts) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.entries == nil || len(cc.entries) >= maxReplayEntries {
		cc.entries = map[string]chatCountEntry{}
	}
	cc.entries[id] = chatCountEntry{window: window, c: c, expires: time.Now().Add(chatReplayTTL)}
}

func writeCSVHeaders(w http.ResponseWriter, filename string) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	h.Set("Cache-Control", "no-store")
}

// writeTalksCSV writes one row per talk, and a last row for the day when
// day is given, after a UTF-8 BOM (for Excel), with cells a spreadsheet
// would run as formulas escaped (titles and names are anyone's text).
func writeTalksCSV(w io.Writer, talks []talkStatsJSON, day *dayStatsJSON) {
	_, _ = io.WriteString(w, utf8BOM)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"talk", "title", "speakers", "stage", "start", "end",
		"live_viewers_unique", "live_viewers_peak", "replay_viewers_unique",
		"chat_messages", "questions", "questions_answered", "downloads", "downloads_slides", "downloads_mp4"})
	row := func(id, title, speakers, stage string, start, end *time.Time, n statsNumbers) {
		_ = cw.Write([]string{csvSafe(id), csvSafe(title), csvSafe(speakers), csvSafe(stage), csvTime(start), csvTime(end),
			strconv.Itoa(n.LiveViewersUnique), strconv.Itoa(n.LiveViewersPeak), strconv.Itoa(n.ReplayViewersUnique),
			strconv.Itoa(n.ChatMessages), strconv.Itoa(n.Questions), strconv.Itoa(n.QuestionsAnswered),
			strconv.Itoa(n.Downloads), strconv.Itoa(n.DownloadsSlides), strconv.Itoa(n.DownloadsMP4)})
	}
	for _, t := range talks {
		row(t.ID, t.Title, joinNames(t.Speakers), t.Stage, t.Start, t.End, t.statsNumbers)
	}
	if day != nil {
		row("", "(the day "+day.Date+")", "", "", nil, nil, day.statsNumbers)
	}
	cw.Flush()
}

// writeDayViewersCSV writes the day's viewers per minute: the total and
// one column per stage.
func writeDayViewersCSV(w io.Writer, d dayStatsJSON) {
	head := []string{"at", "viewers"}
	cols := make([][]stats.Point, 0, len(d.Stages))
	for _, st := range d.Stages {
		head = append(head, csvSafe(st.Stage))
		cols = append(cols, st.Viewers)
	}
	writeSeriesCSV(w, head, d.Viewers, cols)
}

// writeSeriesCSV writes one row per point of main, with the counts of the
// same minute in extra (series filled over the same minutes).
func writeSeriesCSV(w io.Writer, head []string, main []stats.Point, extra [][]stats.Point) {
	_, _ = io.WriteString(w, utf8BOM)
	cw := csv.NewWriter(w)
	_ = cw.Write(head)
	for i, p := range main {
		row := []string{p.At.UTC().Format(time.RFC3339), strconv.Itoa(p.Count)}
		for _, col := range extra {
			n := 0
			if i < len(col) {
				n = col[i].Count
			}
			row = append(row, strconv.Itoa(n))
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += "; "
		}
		out += n
	}
	return out
}
