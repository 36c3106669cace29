package web

import (
	"context"
	"fmt"
	"github.com/salon/salon/web/i18n"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
)

// fakeTalks is an in-memory talk library for handler tests; the real one is
// tested in package archive and end to end in cmd/salon.
type fakeTalks struct {
	mu    sync.Mutex
	talks map[string]archive.Talk
	calls []string
}

func (f *fakeTalks) List() []archive.Talk {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []archive.Talk
	for _, t := range f.talks {
		out = append(out, t)
	}
	return out
}

func (f *fakeTalks) Get(id string) (archive.Talk, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.talks[id]
	if !ok {
		return t, fmt.Errorf("talk %q: %w", id, archive.ErrNotFound)
	}
	return t, nil
}

func (f *fakeTalks) Create(_ context.Context, t archive.Talk) (archive.Talk, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "create")
	if t.Title == "" {
		return t, fmt.Errorf("title: %w: required", archive.ErrInvalid)
	}
	if t.ID == "" {
		t.ID = "talk-1"
	}
	if _, ok := f.talks[t.ID]; ok {
		return t, fmt.Errorf("talk %q exists: %w", t.ID, archive.ErrConflict)
	}
	f.talks[t.ID] = t
	return t, nil
}

func (f *fakeTalks) Update(_ context.Context, id string, p archive.TalkPatch) (archive.Talk, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "update")
	t, ok := f.talks[id]
	if !ok {
		return t, archive.ErrNotFound
	}
	if p.Title != nil {
		t.Title = *p.Title
	}
	f.talks[id] = t
	return t, nil
}

func (f *fakeTalks) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "delete")
	delete(f.talks, id)
	return nil
}

func (f *fakeTalks) Start(_ context.Context, id string, at time.Time) (archive.Talk, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "start")
	t, ok := f.talks[id]
	if !ok {
		return t, archive.ErrNotFound
	}
	if t.Recording != nil {
		return t, fmt.Errorf("talk %q is already live: %w", id, archive.ErrConflict)
	}
	t.Recording = &archive.Window{Start: at}
	f.talks[id] = t
	return t, nil
}

func (f *fakeTalks) Stop(_ context.Context, id string, at time.Time) (archive.Talk, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "stop")
	t, ok := f.talks[id]
	if !ok {
		return t, archive.ErrNotFound
	}
	if t.Recording == nil || t.Recording.End != nil {
		return t, fmt.Errorf("talk %q is not live: %w", id, archive.ErrConflict)
	}
	t.Recording.End = &at
	f.talks[id] = t
	return t, nil
}

const testAdmin = "admin-secret-token"

func startTalkServer(t *testing.T, store archive.Store) (*fakeTalks, string) {
	t.Helper()
	live, stages := newFakes()
	lib := &fakeTalks{talks: map[string]archive.Talk{}}
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Talks: lib, AdminToken: testAdmin,
		Programme: &fakeProgramme{lib: lib},
	}
	if store != nil {
		s.Archive = store
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return lib, "http://" + s.Addr()
}

func send(t *testing.T, method, url, token, ctype, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func TestServer_TalksAPI(t *testing.T) {
	lib, base := startTalkServer(t, nil)
	const good = `{"title":"Go at the venue","speakers":[{"name":"Ada"}],"stage":"main","starts_at":"2026-11-25T10:00:00Z","ends_at":"2026-11-25T10:30:00Z"}`
	cases := []struct {
		name, method, path, token, ctype, body string
		want                                   int
		wantErr                                string
	}{
		{"create without token", "POST", "/api/talks", "", "application/json", good, 401, "admin token required"},
		{"create with wrong token", "POST", "/api/talks", "nope", "application/json", good, 401, "wrong admin token"},
		{"create", "POST", "/api/talks", testAdmin, "application/json", good, 201, ""},
		{"create again: id taken", "POST", "/api/talks", testAdmin, "", strings.Replace(good, `{`, `{"id":"talk-1",`, 1), 409, "exists"},
		{"malformed json", "POST", "/api/talks", testAdmin, "application/json", `{"title":`, 400, "malformed JSON"},
		{"unknown field", "POST", "/api/talks", testAdmin, "application/json", `{"title":"x","colour":"red"}`, 400, "unknown field"},
		{"two objects", "POST", "/api/talks", testAdmin, "application/json", good + good, 400, "one object"},
		{"wrong content type", "POST", "/api/talks", testAdmin, "text/plain", good, 415, "JSON"},
		{"bad time", "POST", "/api/talks", testAdmin, "application/json", `{"title":"x","starts_at":"tomorrow"}`, 400, "malformed"},
		{"library says invalid", "POST", "/api/talks", testAdmin, "application/json", `{"stage":"main"}`, 400, "title"},
		{"oversized body", "POST", "/api/talks", testAdmin, "application/json", `{"title":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "bytes"},
		{"get", "GET", "/api/talks/talk-1", "", "", "", 200, ""},
		{"get unknown", "GET", "/api/talks/nope", "", "", "", 404, ""},
		{"stop never started", "POST", "/api/talks/talk-1/stop", testAdmin, "", "", 409, "not live"},
		{"start", "POST", "/api/talks/talk-1/start", testAdmin, "", "", 200, ""},
		{"start again", "POST", "/api/talks/talk-1/start", testAdmin, "", "", 409, "already live"},
		{"start without token", "POST", "/api/talks/talk-1/start", "", "", "", 401, ""},
		{"stop", "POST", "/api/talks/talk-1/stop", testAdmin, "", "", 200, ""},
		{"patch", "PATCH", "/api/talks/talk-1", testAdmin, "application/json", `{"title":"Renamed"}`, 200, ""},
		{"delete without token", "DELETE", "/api/talks/talk-1", "", "", "", 401, ""},
		{"delete", "DELETE", "/api/talks/talk-1", testAdmin, "", "", 204, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, base+tc.path, tc.token, tc.ctype, tc.body)
			if r.status != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
			if r.status >= 400 {
				if !strings.Contains(r.body, `"error"`) || !strings.Contains(r.body, tc.wantErr) {
					t.Fatalf("error body %s, want JSON error mentioning %q", r.body, tc.wantErr)
				}
			}
		})
	}
	lib.mu.Lock()
	defer lib.mu.Unlock()
	// Refused requests never reached the library, except the ones it refused itself.
	want := "create create create stop start start stop update delete"
	if got := strings.Join(lib.calls, " "); got != want {
		t.Fatalf("library calls = %q, want %q (unauthorised or malformed requests must not reach it)", got, want)
	}
}

func TestServer_TalkJSONFields(t *testing.T) {
	_, base := startTalkServer(t, nil)
	r := send(t, "POST", base+"/api/talks", testAdmin, "application/json", `{"title":"T","stage":"main"}`)
	if r.status != 201 {
		t.Fatal(r.body)
	}
	send(t, "POST", base+"/api/talks/talk-1/start", testAdmin, "", "")
	r = send(t, "GET", base+"/api/talks/talk-1", "", "", "")
	for _, want := range []string{`"live":true`, `"page_url":"/talks/talk-1"`, `"playlist_url":"/archive/talks/talk-1/index.m3u8"`, `"speakers":[]`} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("talk JSON %s lacks %s", r.body, want)
		}
	}
	send(t, "POST", base+"/api/talks/talk-1/stop", testAdmin, "", "")
	r = send(t, "GET", base+"/api/talks", "", "", "")
	if !strings.Contains(r.body, `"ended":true`) || !strings.Contains(r.body, `"download_url":"/talks/talk-1/download.mp4"`) {
		t.Fatalf("ended talk JSON %s", r.body)
	}
}

func (f *fakeTalks) Selection(ctx context.Context, id string) (archive.Selection, error) {
	if _, err := f.Get(id); err != nil {
		return archive.Selection{}, err
	}
	return archive.Selection{}, nil
}

func TestFormatDuration(t *testing.T) {
	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for lang, cases := range map[string]map[float64]string{
		"en":    {8: "8 s", 59: "59 s", 60: "1 min", 28*60 + 20: "28 min", 3900: "1 h 05 min", 7200: "2 h 00 min"},
		"zh-CN": {8: "8 秒", 60: "1 分钟", 3900: "1 小时 05 分钟"},
	} {
		for secs, want := range cases {
			if got := formatDuration(c.Localizer(lang), secs); got != want {
				t.Errorf("%s: formatDuration(%v) = %q, want %q", lang, secs, got, want)
			}
		}
	}
}

func (f *fakeTalks) LiveOn(stage string) (archive.Talk, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.talks {
		if t.Stage == stage && t.Live() {
			return t, true
		}
	}
	return archive.Talk{}, false
}

func (f *fakeTalks) SaveChat(ctx context.Context, id string, jsonl []byte) error { return nil }

func (f *fakeTalks) SaveSlideChanges(ctx context.Context, id string, changes []archive.SlideChange) (archive.Talk, error) {
	t, err := f.Get(id)
	t.SlideChanges = changes
	return t, err
}
