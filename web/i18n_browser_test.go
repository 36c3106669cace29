package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/i18n"
	"github.com/salon/salon/web/webtest"
)

// TestPages_LanguagesBrowser renders the main pages in Chromium in English
// and in Chinese: <html lang>, the switcher, no raw catalog key in the text
// or in labels, no text of the other language's catalog, scripts speaking
// the page's language, server and browser writing the same times in the
// event's zone, and people's text in any script wrapping inside the page.
func TestPages_LanguagesBrowser(t *testing.T) {
	ctx := webtest.Browser(t)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	live, stages := newFakes()
	// The stage warns (as hls and the transcoder would): the live page and
	// the console show it in the page's language.
	gop := stream.Warn("hls.gop_long", "Seconds", "4.0", "Target", "2s")
	restart := stream.Warn("transcode.restarting", "Exit", "exit status 1", "Delay", "2s", "Restarts", "3")
	restart.Rendition = "720p"
	for i := range stages.stages {
		if stages.stages[i].Name == "main" {
			stages.stages[i].Warnings = []stream.Warning{gop, restart}
		}
	}
	lib := &fakeTalks{talks: map[string]archive.Talk{}}
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Talks: lib, AdminToken: testAdmin,
		Programme: &fakeProgramme{lib: lib}, Location: shanghai,
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	base := "http://" + s.Addr()

	long := strings.Repeat("没有空格的很长的中文标题", 8) + "🎥🎤 " + strings.Repeat("x", 120)
	for _, body := range []string{
		`{"id":"zh-talk","title":` + jsonString(long) + `,"speakers":[{"name":"王小明"},{"name":"Zoë 👩‍💻"}],"stage":"main","starts_at":"2026-12-02T06:05:00Z","ends_at":"2026-12-02T07:00:00Z","abstract":"关于社区直播的分享。"}`,
		`{"id":"rtl-talk","title":"مرحبا بالعالم","speakers":[{"name":"مريم"}],"stage":"main","starts_at":"2026-12-02T08:00:00Z","ends_at":"2026-12-02T09:00:00Z"}`,
	} {
		if r := send(t, "POST", base+"/api/talks", testAdmin, "application/json", body); r.status != 201 {
			t.Fatalf("create a talk: %d %s", r.status, r.body)
		}
	}

	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	catalog := func(lang string) map[string]string {
		var v struct {
			Messages map[string]any `json:"messages"`
		}
		if err := json.Unmarshal(c.JSON(lang), &v); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for k, m := range v.Messages {
			switch m := m.(type) {
			case string:
				out[k] = m
			case map[string]any:
				out[k], _ = m["other"].(string)
			}
		}
		return out
	}
	en, zh := catalog("en"), catalog("zh-CN")

	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	pages := []struct {
		path  string
		ready string // JS true once the page's scripts ran
	}{
		{"/", `true`},
		{"/live/main", `!!document.getElementById('overlay-text').textContent`},
		{"/talks/zh-talk", `true`},
		{"/live/main/questions", `document.getElementById('q-status').textContent !== ` + jsonString(en["live.connecting"]) + ` && document.getElementById('q-status').textContent !== ` + jsonString(zh["live.connecting"])},
		{"/live/main/room", `true`},
		{"/no/such/page", `true`},
	}
	// The console's pages come after logging in (the form, in English).
	consolePages := []string{"/admin", "/admin/talks/zh-talk", "/admin/stages/main/chat", "/admin/schedule"}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+"/admin?lang=en")); err != nil {
		t.Fatal(err)
	}
	pollJS(ctx, t, "the login form", `!!document.querySelector('form.login-form input[name=token]')`)
	if err := chromedp.Do(ctx, chromedp.SetValue("#token", testAdmin), chromedp.Click("form.login-form button[type=submit]")); err != nil {
		t.Fatal(err)
	}
	// The form's POST navigates: ask until the console answers.
	for deadline := time.Now().Add(30 * time.Second); ; {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('meta[name=csrf-token]')`))
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logging in to the console: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range consolePages {
		pages = append(pages, struct {
			path  string
			ready string
		}{p, `!!document.querySelector('meta[name=csrf-token]')`})
	}
	for _, lang := range []string{"en", "zh-CN"} {
		mine, other := en, zh
		if lang == "zh-CN" {
			mine, other = zh, en
		}
		for _, p := range pages {
			t.Run(lang+p.path, func(t *testing.T) {
				if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+p.path+"?lang="+lang)); err != nil {
					t.Fatal(err)
				}
				pollJS(ctx, t, "the page's scripts", `document.readyState === 'complete' && (`+p.ready+`)`)
				type pageText struct {
					Lang    string   `json:"lang"`
					Text    string   `json:"text"`
					Labels  []string `json:"labels"`
					Current string   `json:"current"`
				}
				got, err := chromedp.Run(ctx, chromedp.Evaluate[pageText](`({
					lang: document.documentElement.lang,
					text: document.body.innerText,
					labels: [...document.querySelectorAll('[aria-label],[placeholder],[title],[alt]')].flatMap(e =>
						['aria-label', 'placeholder', 'title', 'alt'].map(a => e.getAttribute(a)).filter(Boolean)),
					current: (document.querySelector('.lang-switch [aria-current]') || {}).textContent || ''
				})`))
				if err != nil {
					t.Fatal(err)
				}
				if got.Lang != lang {
					t.Errorf("<html lang=%q>, want %q", got.Lang, lang)
				}
				if want := map[string]string{"en": "English", "zh-CN": "简体中文"}[lang]; got.Current != want {
					t.Errorf("the switcher marks %q as current, want %q", got.Current, want)
				}
				all := got.Text + "\n" + strings.Join(got.Labels, "\n")
				for k := range mine {
					if strings.Contains(all, k) {
						t.Errorf("a raw catalog key shows: %q", k)
					}
				}
				for k, s := range other {
					// Short words (Live, OK) may be part of people's text.
					if len([]rune(s)) >= 12 && s != mine[k] && !strings.Contains(s, "{{") && strings.Contains(all, s) {
						t.Errorf("%s page shows the other language's %q: %q", lang, k, s)
					}
				}
				if lang == "zh-CN" && !strings.ContainsFunc(got.Text, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
					t.Errorf("the Chinese page has no Chinese text: %.300q", got.Text)
				}
			})
		}

		t.Run(lang+"/scripts", func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/live/main/questions?lang="+lang)); err != nil {
				t.Fatal(err)
			}
			// questions.js says the chat is gone (this server has none) in
			// the page's language.
			pollJS(ctx, t, "the questions page's chat state", `document.getElementById('q-status').textContent === `+jsonString(mine["chat.reconnecting"]))
		})

		t.Run(lang+"/stage warnings", func(t *testing.T) {
			l := c.Localizer(lang)
			want := []string{warningText(l, gop), warningText(l, restart)}
			wantJS := jsonString(strings.Join(want, "\n"))
			// The live page renders them, then live.js again from
			// /api/stages/main's codes; the console from its health feed.
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/live/main?lang="+lang)); err != nil {
				t.Fatal(err)
			}
			pollJS(ctx, t, "the live page's warnings in "+lang, `!!document.getElementById('overlay-text').textContent && [...document.querySelectorAll('#warnings li')].map(li => li.textContent).join('\n') === `+wantJS)
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('warnings').scrollIntoView({block: 'center'}), true`)); err != nil {
				t.Fatal(err)
			}
			webtest.Screenshot(t, ctx, "warnings-live-"+lang)
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin?lang="+lang)); err != nil {
				t.Fatal(err)
			}
			pollJS(ctx, t, "the console's warnings in "+lang, `[...document.querySelectorAll('ul.warnings li')].map(li => li.textContent).join('\n') === `+wantJS)
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('ul.warnings li').scrollIntoView({block: 'center'}), true`)); err != nil {
				t.Fatal(err)
			}
			webtest.Screenshot(t, ctx, "warnings-console-"+lang)
			if lang == "zh-CN" && !strings.Contains(want[0], "关键帧间隔 4.0 秒") {
				t.Errorf("the Chinese warning is %q", want[0])
			}
		})

		t.Run(lang+"/times", func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/talks/zh-talk?lang="+lang)); err != nil {
				t.Fatal(err)
			}
			server, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.eyebrow').textContent`))
			if err != nil {
				t.Fatal(err)
			}
			browser, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import('/static/js/lib/i18n.js').then(m => m.formatDate('2026-12-02T06:05:00Z', 'dayTime'))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"en": "Wed 2 Dec, 14:05", "zh-CN": "12月2日周三 14:05"}[lang]
			if browser != want || !strings.HasSuffix(server, " · "+want) {
				t.Errorf("server wrote %q, browser %q; want both %q (Asia/Shanghai)", server, browser, want)
			}
			for _, style := range []i18n.DateStyle{i18n.Time, i18n.Day, i18n.DayTime, i18n.LongDay, i18n.DayShort} {
				name := map[i18n.DateStyle]string{i18n.Time: "time", i18n.Day: "day", i18n.DayTime: "dayTime", i18n.LongDay: "longDay", i18n.DayShort: "dayShort"}[style]
				at := time.Date(2026, 3, 29, 23, 59, 0, 0, time.UTC)
				b, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import('/static/js/lib/i18n.js').then(m => m.formatDate(`+jsonString(at.Format(time.RFC3339))+`, '`+name+`'))`, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatal(err)
				}
				if g := c.Localizer(lang).Date(at, shanghai, style); g != b {
					t.Errorf("style %s: server %q, browser %q", name, g, b)
				}
			}
		})

		t.Run(lang+"/scripts of any kind", func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/talks/zh-talk?lang="+lang)); err != nil {
				t.Fatal(err)
			}
			pollJS(ctx, t, "the talk page", `document.readyState === 'complete'`)
			overflow, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#talk-title, #talk-speakers, .abstract, header.site')]
				.filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > innerWidth + 1).map(e => e.id || e.className)`))
			if err != nil {
				t.Fatal(err)
			}
			if len(overflow) > 0 || scrollsSideways(ctx, t) {
				t.Errorf("at 390 px, text overflows the page: %v", overflow)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/talks/rtl-talk?lang="+lang)); err != nil {
				t.Fatal(err)
			}
			dir, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('talk-title')).direction`))
			if err != nil {
				t.Fatal(err)
			}
			if dir != "rtl" {
				t.Errorf("an Arabic title is set %q, want rtl (dir=auto)", dir)
			}
		})
	}
}

func scrollsSideways(ctx context.Context, t *testing.T) bool {
	t.Helper()
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	return wide
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pollJS waits until expr is true in the page.
func pollJS(ctx context.Context, t *testing.T, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 400) : ''`))
		t.Fatalf("waiting for %s: %v (page text %q)", what, err, text)
	}
}
