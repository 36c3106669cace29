package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/stats"
)

// statsFixture is a server with a real stats.Counter, a directory archive
// and two talks: "opening" live on main, "zhibo" ended with its chat
// archived (one message deleted, two questions, one answered).
type statsFixture struct {
	srv     *Server
	base    string
	counter *stats.Counter
	dir     string
}

type talkOnStage struct{ lib *fakeTalks }

func (p talkOnStage) OnStage(stage string) (string, any, bool) {
	t, ok := p.lib.LiveOn(stage)
	return t.ID, nil, ok
}

func startStatsServer(t *testing.T) *statsFixture {
	t.Helper()
	ctx := context.Background()
	store := &archive.DirStore{Root: t.TempDir()}
	if err := store.Initialize(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	start := now.Add(-50 * time.Minute)
	end := now.Add(-20 * time.Minute)
	lib := &fakeTalks{talks: map[string]archive.Talk{
		"opening": {ID: "opening", Title: "=HYPERLINK(\"http://x\")", Stage: "main", Speakers: []archive.Speaker{{Name: "Ada"}},
			Recording: &archive.Window{Start: now.Add(-10 * time.Minute)}},
		"zhibo": {ID: "zhibo", Title: "直播的一天", Stage: "main", Speakers: []archive.Speaker{{Name: "小明"}},
			Recording: &archive.Window{Start: start, End: &end}},
	}}
	chatLog := strings.Join([]string{
		`{"id":"m1","talk":"zhibo","name":"小红","text":"你好","ts":"` + start.Add(time.Minute).Format(time.RFC3339) + `"}`,
		`{"id":"m2","talk":"zhibo","name":"spam","text":"buy","ts":"` + start.Add(2*time.Minute).Format(time.RFC3339) + `","deleted":true}`,
		`{"id":"m3","talk":"zhibo","name":"小明","text":"延迟多少？","question":true,"answered":true,"ts":"` + start.Add(3*time.Minute).Format(time.RFC3339) + `"}`,
		`{"id":"m4","talk":"zhibo","name":"eve","text":"录像在哪？","question":true,"ts":"` + start.Add(4*time.Minute).Format(time.RFC3339) + `"}`,
	}, "\n") + "\n"
	for key, body := range map[string]string{
		archive.ChatKey("zhibo"):              chatLog,
		archive.TalkPlaylistKey("zhibo"):      "#EXTM3U\n#EXT-X-ENDLIST\n",
		archive.TalkPlaylistKey("opening"):    "#EXTM3U\n",
		archive.SlideKey("zhibo", "deck.pdf"): "%PDF-1.4 not really a deck but long enough for ranges",
	} {
		if err := store.Put(ctx, key, strings.NewReader(body), int64(len(body)), ""); err != nil {
			t.Fatal(err)
		}
	}
	f := &statsFixture{dir: t.TempDir()}
	f.counter = &stats.Counter{Dir: f.dir, Programme: talkOnStage{lib}, Zone: time.UTC, FlushEvery: -1}
	if err := f.counter.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.counter.Close)
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	f.srv = &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Talks: lib, Archive: store, AdminToken: testAdmin,
		Stats: f.counter,
	}
	if err := f.srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Close)
	f.base = "http://" + f.srv.Addr()
	return f
}

// sample does what the server's sampler does every 5 s, now.
func (f *statsFixture) sample() {
	buf := map[string][]uint64{}
	f.srv.viewers.sample(time.Now(), buf)
	f.counter.Live(buf)
}

func TestServer_StatsRefused(t *testing.T) {
	f := startStatsServer(t)
	for _, path := range []string{"/api/stats", "/api/stats?format=csv", "/api/talks/zhibo/stats", "/api/talks/zhibo/stats?format=csv"} {
		for _, tok := range []string{"", "wrong"} {
			r := send(t, "GET", f.base+path, tok, "", "")
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `"error"`) || strings.Contains(r.body, "zhibo") {
				t.Errorf("GET %s with token %q: %d %s", path, tok, r.status, r.body)
			}
		}
	}
	// The page needs the session or the token like every console page;
	// with it, it is a shell that asks the API (no numbers, no titles).
	if r := send(t, "GET", f.base+"/admin/stats", "", "", ""); r.status != http.StatusUnauthorized || !strings.Contains(r.body, `action="/admin/login"`) {
		t.Errorf("GET /admin/stats without credentials: %d", r.status)
	}
	r := send(t, "GET", f.base+"/admin/stats", testAdmin, "", "")
	if r.status != http.StatusOK || !strings.Contains(r.body, "js/stats.js") || strings.Contains(r.body, "直播的一天") {
		t.Errorf("GET /admin/stats with the token: %d", r.status)
	}
}

func TestServer_StatsBadRequests(t *testing.T) {
	f := startStatsServer(t)
	for path, want := range map[string]int{
		"/api/stats?format=xml":             http.StatusBadRequest,
		"/api/stats?format=csv&table=rooms": http.StatusBadRequest,
		"/api/stats?date=yesterday":         http.StatusBadRequest,
		"/api/stats?date=2001-01-01":        http.StatusNotFound,
		"/api/talks/nope/stats":             http.StatusNotFound,
		"/api/talks/BAD!/stats":             http.StatusBadRequest,
	} {
		r := send(t, "GET", f.base+path, testAdmin, "", "")
		if r.status != want || !strings.Contains(r.body, `"error"`) {
			t.Errorf("GET %s: %d %s, want %d", path, r.status, r.body, want)
		}
	}
}

func TestServer_Stats(t *testing.T) {
	f := startStatsServer(t)
	get := func(path string, h map[string]string) {
		t.Helper()
		if r := do(t, "GET", f.base+path, h); r.status >= 300 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	// Three live viewers on the stage's playlist, one more on the live
	// talk's page (which plays the talk's playlist); two replay viewers; one
	// reads the slides with two Range requests and downloads nothing else.
	for _, id := range []string{"viewer-alpha-1", "viewer-beta-2", "viewer-gamma-3"} {
		get("/live/main/index.m3u8", map[string]string{viewerHeader: id})
		get("/live/main/index.m3u8", map[string]string{viewerHeader: id})
	}
	get("/archive/talks/opening/index.m3u8", map[string]string{"User-Agent": "talk-page"})
	f.sample()
	get("/archive/talks/zhibo/index.m3u8", map[string]string{"User-Agent": "phone"})
	get("/archive/talks/zhibo/index.m3u8", map[string]string{"User-Agent": "phone"})
	get("/archive/talks/zhibo/index.m3u8", map[string]string{"User-Agent": "laptop"})
	get("/archive/talks/zhibo/slides/deck.pdf", map[string]string{"User-Agent": "laptop", "Range": "bytes=0-9"})
	get("/archive/talks/zhibo/slides/deck.pdf", map[string]string{"User-Agent": "laptop", "Range": "bytes=10-19"})

	r := send(t, "GET", f.base+"/api/stats", testAdmin, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/stats: %d %s", r.status, r.body)
	}
	var day dayStatsJSON
	if err := json.Unmarshal([]byte(r.body), &day); err != nil {
		t.Fatal(err)
	}
	// The contract's fields are there by name.
	var raw map[string]any
	_ = json.Unmarshal([]byte(r.body), &raw)
	for _, k := range []string{"live_viewers_unique", "live_viewers_peak", "replay_viewers_unique", "chat_messages", "questions", "downloads", "viewers"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("/api/stats has no %q: %s", k, r.body)
		}
	}
	if day.LiveViewersUnique != 4 || day.LiveViewersPeak != 4 || day.ReplayViewersUnique != 2 || day.Downloads != 1 || day.DownloadsSlides != 1 {
		t.Errorf("day numbers: %+v", day.statsNumbers)
	}
	if day.ChatMessages != 3 || day.Questions != 2 || day.QuestionsAnswered != 1 {
		t.Errorf("day chat: %d messages, %d questions, %d answered", day.ChatMessages, day.Questions, day.QuestionsAnswered)
	}
	if len(day.Viewers) != 1 || day.Viewers[0].Count != 4 || len(day.Stages) != 1 || day.Stages[0].Stage != "main" {
		t.Errorf("series %v, stages %+v", day.Viewers, day.Stages)
	}
	if len(day.Talks) != 2 || day.Talks[0].ID != "zhibo" || day.Talks[1].ID != "opening" {
		t.Fatalf("talks %+v", day.Talks)
	}
	zhibo, opening := day.Talks[0], day.Talks[1]
	if zhibo.Title != "直播的一天" || zhibo.ReplayViewersUnique != 2 || zhibo.LiveViewersUnique != 0 || zhibo.ChatMessages != 3 || zhibo.End == nil {
		t.Errorf("zhibo %+v", zhibo)
	}
	// An ended talk's series covers its window, minute by minute, zeros included.
	if n := len(zhibo.Viewers); n < 30 || n > 32 {
		t.Errorf("zhibo's series has %d minutes, want its 30", n)
	}
	if !opening.Live || opening.LiveViewersUnique != 4 || opening.LiveViewersPeak != 4 || opening.End != nil {
		t.Errorf("opening %+v", opening)
	}

	r = send(t, "GET", f.base+"/api/talks/opening/stats", testAdmin, "", "")
	var one talkStatsJSON
	if err := json.Unmarshal([]byte(r.body), &one); err != nil || r.status != 200 {
		t.Fatalf("talk stats %d %s", r.status, r.body)
	}
	if one.LiveViewersUnique != 4 || one.Title != opening.Title || one.Speakers[0] != "Ada" {
		t.Errorf("talk stats %+v", one)
	}

	// CSV: BOM, a row per talk and the day, formulas defused, Chinese kept.
	r = send(t, "GET", f.base+"/api/stats?format=csv", testAdmin, "", "")
	if r.status != 200 || !strings.HasPrefix(r.body, "\uFEFFtalk,title,") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV %d %q", r.status, r.body[:min(40, len(r.body))])
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\uFEFF"))).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("CSV rows %v %v", rows, err)
	}
	if rows[1][1] != "直播的一天" || rows[1][2] != "小明" || rows[2][1] != `'=HYPERLINK("http://x")` || rows[2][6] != "4" || rows[3][1] != "(the day "+day.Date+")" || rows[3][9] != "3" {
		t.Errorf("CSV rows %q", rows)
	}
	r = send(t, "GET", f.base+"/api/stats?format=csv&table=viewers", testAdmin, "", "")
	if rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\uFEFF"))).ReadAll(); err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != "at,viewers,main" || rows[1][1] != "4" {
		t.Errorf("viewers CSV %q %v", rows, err)
	}
	r = send(t, "GET", f.base+"/api/talks/zhibo/stats?format=csv&table=viewers", testAdmin, "", "")
	if rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\uFEFF"))).ReadAll(); err != nil || len(rows) < 31 || strings.Join(rows[0], ",") != "at,viewers" {
		t.Errorf("talk viewers CSV: %d rows, %v", len(rows), err)
	}

	// Nothing personal reaches the disk: no address, viewer id or agent.
	if err := f.counter.Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(f.dir, day.Date+".json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"127.0.0.1", "viewer-alpha-1", "viewer-beta", "talk-page", "laptop", "phone"} {
		if strings.Contains(string(b), s) {
			t.Errorf("the day file holds %q: %s", s, b)
		}
	}
}

// TestViewers_SampleNoAlloc: the playlist hot path is unchanged by the stats
// (nothing is reported per fetch); the sampler reuses its buffers.
func TestViewers_SampleNoAlloc(t *testing.T) {
	v := newViewers(viewerWindow)
	now := time.Now()
	for i := range 2000 {
		v.touch("main", uint64(i)*7919, now)
	}
	buf := map[string][]uint64{}
	v.sample(now, buf)
	if len(buf["main"]) != 2000 {
		t.Fatalf("sample has %d keys", len(buf["main"]))
	}
	if n := testing.AllocsPerRun(20, func() { v.sample(now, buf) }); n != 0 {
		t.Errorf("sample allocates %.0f times per call once warm", n)
	}
	v.sample(now.Add(time.Minute), buf)
	if len(buf) != 0 {
		t.Errorf("viewers gone from the window are still sampled: %d stages", len(buf))
	}
}

// BenchmarkServer_PlaylistFetch is one live playlist fetch through the
// handler, with stats on and off: the stats add nothing per fetch.
func BenchmarkServer_PlaylistFetch(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "stats=off"
		if on {
			name = "stats=on"
		}
		b.Run(name, func(b *testing.B) {
			live, stages := newFakes()
			reg := prometheus.NewRegistry()
			s := &Server{Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg, Log: slog.New(slog.DiscardHandler)}
			if on {
				c := &stats.Counter{Dir: b.TempDir(), FlushEvery: -1}
				if err := c.Initialize(); err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				s.Stats = c
			}
			if err := s.Initialize(); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			h := s.Handler()
			req, _ := http.NewRequest("GET", "/live/main/index.m3u8", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set(viewerHeader, "bench-viewer")
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(discardWriter{}, req)
			}
		})
	}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
