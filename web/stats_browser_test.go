package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/stats"
	"github.com/salon/salon/web/webtest"
)

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type stageTalks struct {
	mu   sync.Mutex
	live map[string]string
}

func (p *stageTalks) OnStage(stage string) (string, any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := p.live[stage]
	return id, nil, id != ""
}

// syntheticDay feeds a counter a four-hour day on two stages (one sample a
// minute) and returns the talks it was about.
func syntheticDay(t *testing.T, store archive.Store) (*stats.Counter, map[string]archive.Talk, *time.Location) {
	t.Helper()
	zone, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no time zone database")
	}
	day := time.Date(2026, 12, 2, 9, 0, 0, 0, zone)
	clk := &stepClock{now: day}
	prog := &stageTalks{live: map[string]string{}}
	c := &stats.Counter{Dir: t.TempDir(), Clock: clk, Programme: prog, Zone: zone, FlushEvery: -1}
	if err := c.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	type plan struct {
		id, title, speaker, stage string
		from, to                  int // minutes after 09:00
	}
	plans := []plan{
		{"opening", "开场：社区的一年", "王芳", "main", 0, 55},
		{"latency", "低延迟直播的实践", "李雷", "main", 60, 115},
		{"archive", "Replays from the bucket", "Ada Lovelace", "main", 120, 175},
		{"closing", "闭幕与感谢", "韩梅梅", "main", 180, 230},
		{"workshop", "OBS 工作坊", "张伟", "side", 40, 160},
	}
	talks := map[string]archive.Talk{}
	ctx := context.Background()
	for i, p := range plans {
		start, end := day.Add(time.Duration(p.from)*time.Minute), day.Add(time.Duration(p.to)*time.Minute)
		talks[p.id] = archive.Talk{ID: p.id, Title: p.title, Stage: p.stage, Speakers: []archive.Speaker{{Name: p.speaker}},
			StartsAt: start, EndsAt: end, Recording: &archive.Window{Start: start, End: &end}}
		var log strings.Builder
		for j := range 20 + 15*i {
			fmt.Fprintf(&log, `{"id":"%s-%d","talk":"%s","name":"n%d","text":"你好 %d","ts":"%s","question":%v,"answered":%v}`+"\n",
				p.id, j, p.id, j, j, start.Add(time.Duration(j)*time.Second).UTC().Format(time.RFC3339), j%5 == 0, j%10 == 0)
		}
		if err := store.Put(ctx, archive.ChatKey(p.id), strings.NewReader(log.String()), int64(log.Len()), ""); err != nil {
			t.Fatal(err)
		}
	}
	for m := 0; m <= 240; m++ {
		clk.set(day.Add(time.Duration(m) * time.Minute))
		prog.mu.Lock()
		prog.live = map[string]string{}
		for _, p := range plans {
			if m >= p.from && m < p.to {
				prog.live[p.stage] = p.id
			}
		}
		prog.mu.Unlock()
		sample := map[string][]uint64{}
		n := int(60 + 540*math.Sin(math.Pi*float64(m)/240)*(0.85+0.15*math.Cos(float64(m)/7)))
		for k := range n {
			sample["main"] = append(sample["main"], uint64(3*m+k+1)*0x9e3779b97f4a7c15)
		}
		if m >= 40 && m < 160 {
			for k := range 30 + (m-40)/2 {
				sample["side"] = append(sample["side"], uint64(100_000+m/3+k)*0x9e3779b97f4a7c15)
			}
		}
		c.Live(sample)
	}
	for i, p := range plans {
		for k := range 40 * (i + 1) {
			c.Replay(p.id, uint64(500_000+k))
			if k%3 == 0 {
				c.SlideDownload(p.id, "deck.pdf", uint64(500_000+k))
			}
			if k%7 == 0 {
				c.MP4Download(p.id, uint64(500_000+k))
			}
		}
	}
	return c, talks, zone
}

// TestStatsPage_Browser: Chromium logs in, opens /admin/stats and sees the
// day: the cards, a chart per stage, a row and a sparkline per talk, and
// the summary line an organiser copies. With SALON_SCREENSHOTS=DIR it saves
// the page at 390×844 and 1366×768.
func TestStatsPage_Browser(t *testing.T) {
	ctx := webtest.Browser(t)
	store := &archive.DirStore{Root: t.TempDir()}
	if err := store.Initialize(); err != nil {
		t.Fatal(err)
	}
	counter, talks, zone := syntheticDay(t, store)
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	srv := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Talks: &fakeTalks{talks: talks}, Archive: store,
		AdminToken: testAdmin, Stats: counter, Location: zone,
	}
	if err := srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	base := "http://" + srv.Addr()

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	poll := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
			if err == nil {
				return
			}
			// A form post navigates ("Inspected target navigated"): poll the
			// new page.
			if time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 1500)`))
			t.Fatalf("waiting for %s: %v; page: %s", what, err, body)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/stats")); err != nil {
		t.Fatal(err)
	}
	poll("the login form", `!!document.querySelector('form.login-form input[name=token]')`)
	if err := chromedp.Do(ctx, chromedp.SetValue("#token", testAdmin), chromedp.Click("form.login-form button[type=submit]")); err != nil {
		t.Fatal(err)
	}
	poll("the console's link to the statistics", `location.pathname === '/admin' && !!document.querySelector('a[href="/admin/stats"]')`)
	shot := func(name string, w, h int64) {
		dir := webtest.ScreenshotDir(t)
		if dir == "" {
			return
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h), chromedp.Sleep(500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", filepath.Join(dir, name))
	}
	shot("console-390.png", 390, 844)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/stats")); err != nil {
		t.Fatal(err)
	}
	poll("a row per talk", `document.querySelectorAll('#stats-talks tbody tr').length === 5`)
	poll("the day's chart", `document.querySelectorAll('#stats-chart svg polyline').length === 3`)
	poll("a sparkline per talk", `document.querySelectorAll('#stats-talks svg.spark polyline').length === 5`)

	first := eval(`document.querySelector('#stats-talks tbody tr .talk-cell').innerText`)
	eval(`(() => { const r = document.getElementById('stats-room'); r.value = '240'; r.dispatchEvent(new Event('input')); return ''; })()`)
	summary := eval(`document.getElementById('stats-summary').textContent`)
	peakNote := eval(`document.querySelector('#stats-cards li:nth-child(2) .stats-card-note').textContent`)
	csvHref := eval(`document.getElementById('csv-talks').getAttribute('href')`)
	if !strings.Contains(first, "开场：社区的一年") || !strings.Contains(first, "09:00–09:55") {
		t.Errorf("first talk row %q: want the opening at 09:00–09:55 in the event's zone", first)
	}
	if !strings.HasPrefix(summary, "240 in the room, over 1,") || !strings.Contains(summary, "watching online") {
		t.Errorf("summary %q", summary)
	}
	if !strings.HasPrefix(peakNote, "at 1") {
		t.Errorf("peak note %q", peakNote)
	}
	if !strings.Contains(csvHref, "format=csv") {
		t.Errorf("CSV link %q", csvHref)
	}

	shot("stats-390.png", 390, 844)
	shot("stats-1366.png", 1366, 768)
}
