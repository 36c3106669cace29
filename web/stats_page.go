package web

import "net/http"

// handleStatsPage is the organiser's statistics page, /admin/stats: how
// the day went, charted (inline SVG drawn by js/stats.js from
// GET /api/stats) with a table per talk and CSV downloads. The page itself
// holds no numbers: its script asks the API, which checks the admin
// credentials (the console's session cookie, else a bearer token the page
// asks for once and keeps for the tab in sessionStorage).
func (s *Server) handleStatsPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, http.StatusOK, "stats.html", pageData{Title: "How the day went"})
}
