package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestServer_groupsWithoutDependency builds every handler group without its
// optional dependencies (only Live and Stages, which are required) and
// checks that each route that needs one answers 503 with the error naming
// what is missing — as the organiser, so that no auth check answers first
// where the 503 comes from inside the handler.
func TestServer_groupsWithoutDependency(t *testing.T) {
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	s := &Server{Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		AdminToken: "organiser-token", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	base := "http://" + s.Addr()

	const (
		chatOff  = "chat is not configured"
		statsOff = "statistics are off on this server"
	)
	tests := []struct {
		group, method, path, want string
	}{
		{"talks", "GET", "/api/talks", noTalks},
		{"talks", "GET", "/api/talks/t1", noTalks},
		{"talks", "POST", "/api/talks", noTalks},
		{"talks", "PATCH", "/api/talks/t1", noTalks},
		{"talks", "DELETE", "/api/talks/t1", noTalks},
		{"programme", "POST", "/api/talks/t1/start", noProgramme},
		{"programme", "POST", "/api/talks/t1/stop", noProgramme},
		{"programme", "GET", "/api/programme", noProgramme},
		{"programme", "PUT", "/api/stages/main/auto", noProgramme},
		{"programme", "POST", "/api/stages/main/next", noProgramme},
		{"archive", "GET", "/archive/talks/t1/index.m3u8", noArchive},
		{"archive", "GET", "/talks/t1/download.mp4", noTalks},
		{"replay", "GET", "/talks/t1/chapters.vtt", noTalks},
		{"replay", "GET", "/talks/t1/bundle.zip", noArchive},
		{"talk chat", "GET", "/api/talks/t1/chat", noTalks},
		{"talk chat", "GET", "/talks/t1/chat.json", noTalks},
		{"chat", "DELETE", "/api/stages/main/chat/messages/m1", chatOff},
		{"chat", "POST", "/api/stages/main/chat/messages/m1/ban", chatOff},
		{"chat", "POST", "/api/stages/main/chat/messages/m1/answered", chatOff},
		{"chat", "PUT", "/api/stages/main/chat/slow-mode", chatOff},
		{"chat", "PUT", "/api/stages/main/chat/onscreen", chatOff},
		{"chat", "GET", "/api/stages/main/chat/moderation", chatOff},
		{"chat", "GET", "/ws/chat/main", chatOff},
		{"slides", "POST", "/api/talks/t1/speaker-link", noTalks},
		{"slides", "DELETE", "/api/talks/t1/speaker-link", noTalks},
		{"slides", "POST", "/api/talks/t1/slides", noTalks},
		{"slides", "DELETE", "/api/talks/t1/slides/a.pdf", noTalks},
		{"slides", "POST", "/api/talks/t1/slide", noTalks},
		{"captions", "PUT", "/api/talks/t1/captions/en", noTalks},
		{"captions", "GET", "/api/talks/t1/captions/en", noTalks},
		{"captions", "DELETE", "/api/talks/t1/captions/en", noTalks},
		{"captions", "POST", "/api/stages/main/captions", noLiveCaptions},
		{"captions", "GET", "/api/stages/main/captions", noLiveCaptions},
		{"console talk", "GET", "/api/talks/t1/speaker-link/qr.png", noTalks},
		{"console talk", "GET", "/archive/talks/t1/trim.m3u8", noTalks},
		{"schedule", "PUT", "/api/schedule", noProgramme},
		{"schedule", "GET", "/schedule.json", noProgramme},
		{"schedule", "GET", "/schedule.ics", noProgramme},
		{"stats", "GET", "/api/stats", statsOff},
		{"stats", "GET", "/api/talks/t1/stats", statsOff},
		{"sponsors", "GET", "/api/sponsors", noSponsors},
		{"sponsors", "POST", "/api/sponsors", noSponsors},
		{"sponsors", "DELETE", "/api/sponsors/s1", noSponsors},
		{"sponsors", "GET", "/sponsors/s1", noSponsors},
	}
	for _, tc := range tests {
		t.Run(tc.group+" "+tc.method+" "+tc.path, func(t *testing.T) {
			res := do(t, tc.method, base+tc.path, map[string]string{"Authorization": "Bearer organiser-token"})
			if res.status != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503: %s", res.status, res.body)
			}
			var body struct{ Error string }
			if err := json.Unmarshal([]byte(res.body), &body); err != nil || body.Error != tc.want {
				t.Errorf("body %q, want the error %q", res.body, tc.want)
			}
		})
	}

	// The pages of a missing library say so in a page of their own.
	pages := []struct {
		path string
		want int
	}{
		{"/talks/t1", http.StatusNotFound},
		{"/admin/talks/t1", http.StatusServiceUnavailable},
	}
	for _, p := range pages {
		res := do(t, "GET", base+p.path, map[string]string{"Authorization": "Bearer organiser-token"})
		if res.status != p.want || !strings.Contains(res.body, "No replay library") {
			t.Errorf("GET %s: status %d, want %d with a page saying there is no replay library", p.path, res.status, p.want)
		}
	}
}
