package web

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
)

// handleAdminSchedule is the console's import page (/admin/schedule): the
// organiser picks a schedule.json or schedule.xml, sees the dry-run plan
// (rooms with a stage each, what would be created, updated, left alone or
// is gone from the file), changes the mapping, confirms, and sees the
// report. The page calls PUT /api/schedule (admin_schedule.js); this
// handler only renders it with the stages known today, for the pickers.
func (s *scheduleHandlers) handleAdminSchedule(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSessionPage(w, r)
	if !ok {
		return
	}
	init := struct {
		Stages     []string `json:"stages"`
		Configured bool     `json:"configured"`
	}{Stages: s.knownStages(), Configured: s.schedule != nil}
	b, err := json.Marshal(init)
	if err != nil {
		s.log.Error("encode the schedule page's state", "error", err)
		b = []byte(`{}`)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "admin_schedule.html", pageData{
		Title: s.tr(r).T("console.schedule.title"),
		Admin: adminData{CSRF: sess.csrf, Zone: s.zoneName(), Initial: template.JS(b)},
	})
}

// knownStages is every stage with a talk or health today, sorted.
func (s *scheduleHandlers) knownStages() []string {
	seen := map[string]bool{}
	if s.talks != nil {
		for _, t := range s.talks.List() {
			if t.Stage != "" {
				seen[t.Stage] = true
			}
		}
	}
	for _, st := range s.feed.snapshotNow().Stages {
		seen[st.Name] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
