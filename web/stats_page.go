package web

import "net/http"

// handleStatsPage is the organiser's statistics page, /admin/stats: how
// the day went, charted (inline SVG drawn by js/stats.js from
// GET /api/stats) with a table per talk and CSV downloads. Like every
// console page it needs the session (or the bearer token); without one it
// is the login form.
func (s *statsHandlers) handleStatsPage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSessionPage(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "stats.html", pageData{
		Title: s.tr(r).T("stats.title"),
		Admin: adminData{Console: true, CSRF: sess.csrf, Zone: s.zoneName()},
	})
}
