package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/programme"
	"github.com/salon/salon/schedule"
)

// scheduleCountingStore counts the objects written to the bucket.
type scheduleCountingStore struct {
	archive.Store
	puts atomic.Int64
}

func (c *scheduleCountingStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, r, size, contentType)
}

func (c *scheduleCountingStore) PutIf(ctx context.Context, key string, data []byte, contentType string, cond archive.Condition) (string, error) {
	c.puts.Add(1)
	return c.Store.PutIf(ctx, key, data, contentType, cond)
}

// startScheduleServer runs the schedule routes over the real talk library
// on a directory and the real import service.
func startScheduleServer(t *testing.T) (*archive.Library, *scheduleCountingStore, string) {
	t.Helper()
	dir := &archive.DirStore{Root: t.TempDir()}
	if err := dir.Initialize(); err != nil {
		t.Fatal(err)
	}
	store := &scheduleCountingStore{Store: dir}
	lib := &archive.Library{Store: store}
	if err := lib.Initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := &programme.ImportService{Library: lib, Dir: t.TempDir()}
	if err := svc.Initialize(); err != nil {
		t.Fatal(err)
	}
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Talks: lib, AdminToken: testAdmin, Schedule: svc,
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return lib, store, "http://" + s.Addr()
}

func readPretalxFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../schedule/testdata/pretalx.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestScheduleAPI_Refusals: every bad request is a clear 4xx and changes
// nothing — no talk, no object written.
func TestScheduleAPI_Refusals(t *testing.T) {
	lib, store, base := startScheduleServer(t)
	good := readPretalxFile(t)
	const g1 = "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0001"
	big := "{" + strings.Repeat(" ", schedule.MaxSize) + "}"
	for _, tc := range []struct {
		name   string
		query  string
		token  string
		ctype  string
		body   string
		status int
		want   string
	}{
		{"no token", "", "", "", good, 401, "admin token required"},
		{"wrong token", "", "nope", "", good, 401, "wrong admin token"},
		{"bad guid", "", testAdmin, "application/json", strings.Replace(good, g1, "not a guid!", 1), 400, `guid \"not a guid!\" is not valid`},
		{"overlap", "", testAdmin, "application/json", strings.Replace(good, `"date": "2026-12-05T11:00:00+08:00",`+"\n"+`                "start": "11:00"`, `"date": "2026-12-05T10:30:00+08:00",`+"\n"+`                "start": "10:30"`, 1), 400, "same room"},
		{"time does not parse", "", testAdmin, "application/json", strings.Replace(good, `"duration": "00:45"`, `"duration": "45min"`, 1), 400, `duration \"45min\"`},
		{"deeply nested", "", testAdmin, "application/json", `{"schedule":` + strings.Repeat("[", 50000) + strings.Repeat("]", 50000) + "}", 400, "nested deeper than"},
		{"not a schedule", "", testAdmin, "text/plain", "hello", 400, "expected pretalx/frab schedule.json"},
		{"over 10 MB", "", testAdmin, "application/json", big, 413, "over 10 MB"},
		{"bad room mapping", "?room=" + url.QueryEscape("主会场=Main Hall"), testAdmin, "application/json", good, 400, "not a stage name"},
		{"room mapping without stage", "?room=" + url.QueryEscape("主会场"), testAdmin, "application/json", good, 400, "room=NAME=stage"},
		{"multipart", "", testAdmin, "multipart/form-data; boundary=x", good, 415, "request body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "PUT", base+"/api/schedule"+tc.query, tc.token, tc.ctype, tc.body)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Errorf("status %d body %s; want %d with %q", r.status, shortBody(r.body), tc.status, tc.want)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
				t.Errorf("not a JSON error: %s", shortBody(r.body))
			}
			if n := len(lib.List()); n != 0 || store.puts.Load() != 0 {
				t.Errorf("%d talks, %d objects written after a refused import", n, store.puts.Load())
			}
		})
	}
}

func shortBody(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func TestScheduleAPI_ImportExport(t *testing.T) {
	lib, store, base := startScheduleServer(t)
	good := readPretalxFile(t)
	q := "?room=" + url.QueryEscape("主会场=main")

	// A dry run says what would happen and writes nothing.
	r := send(t, "PUT", base+"/api/schedule"+q+"&dry_run=1", testAdmin, "application/json", good)
	var rep programme.ImportReport
	if r.status != 200 || json.Unmarshal([]byte(r.body), &rep) != nil || len(rep.Created) != 3 || store.puts.Load() != 0 || len(lib.List()) != 0 {
		t.Fatalf("dry run: %d %s; %d puts", r.status, r.body, store.puts.Load())
	}

	r = send(t, "PUT", base+"/api/schedule"+q, testAdmin, "application/json", good)
	if r.status != 200 || json.Unmarshal([]byte(r.body), &rep) != nil || len(rep.Created) != 3 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	tk, err := lib.Get("salon-2026-101")
	if err != nil || tk.Stage != "main" || tk.Title != "开源社区的一天" {
		t.Fatalf("talk %+v, %v", tk, err)
	}
	// The mapping is kept: the same file without ?room= changes nothing.
	store.puts.Store(0)
	r = send(t, "PUT", base+"/api/schedule", testAdmin, "", good)
	if r.status != 200 || json.Unmarshal([]byte(r.body), &rep) != nil || len(rep.Unchanged) != 3 || store.puts.Load() != 0 {
		t.Fatalf("re-import: %d %s, %d puts", r.status, r.body, store.puts.Load())
	}

	// One talk ended: its replay links appear in schedule.json.
	start := tk.StartsAt.Add(time.Minute)
	end := start.Add(40 * time.Minute)
	if _, err := lib.Update(context.Background(), tk.ID, archive.TalkPatch{Recording: &archive.Window{Start: start, End: &end}}); err != nil {
		t.Fatal(err)
	}
	r = send(t, "GET", base+"/schedule.json", "", "", "")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("schedule.json: %d %v", r.status, r.header)
	}
	back, err := schedule.Parse([]byte(r.body))
	if err != nil {
		t.Fatalf("schedule.json does not parse back: %v\n%s", err, r.body)
	}
	if len(back.Events) != 3 || back.Conference.TimeZoneName != "Asia/Shanghai" || back.Conference.Title != "开源社区沙龙 2026" {
		t.Fatalf("back %+v", back.Conference)
	}
	var found bool
	for _, e := range back.Events {
		if e.GUID == tk.GUID {
			found = e.Room == "主会场" && e.URL == base+"/talks/salon-2026-101"
		}
	}
	if !found || !strings.Contains(r.body, `"url": "`+base+`/talks/salon-2026-101/download.mp4"`) || !strings.Contains(r.body, base+"/archive/talks/salon-2026-101/index.m3u8") {
		t.Errorf("replay links missing:\n%s", r.body)
	}

	r = send(t, "GET", base+"/schedule.ics", "", "", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("schedule.ics: %d %v", r.status, r.header)
	}
	cal, err := ics.ParseCalendar(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if len(cal.Events()) != 3 || !strings.Contains(r.body, "UID:"+tk.GUID+"\r\n") || !strings.Contains(r.body, "X-WR-TIMEZONE:Asia/Shanghai\r\n") {
		t.Errorf("calendar:\n%s", r.body)
	}
}

func FuzzScheduleRoomsParam(f *testing.F) {
	for _, s := range []string{"主会场=main", "a=b=c", "=x", "x=", "Hall A=Hall A", "r=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		rooms, err := scheduleRoomsParam([]string{v})
		if err != nil {
			return
		}
		if len(rooms) != 1 || programme.ImportCheckRooms(rooms) != nil {
			t.Fatalf("accepted %q as %v", v, rooms)
		}
	})
}

// TestScheduleAPI_HiddenTalk: a talk the organiser hid is in neither
// /schedule.json nor /schedule.ics, and comes back when published again.
func TestScheduleAPI_HiddenTalk(t *testing.T) {
	lib, _, base := startScheduleServer(t)
	q := "?room=" + url.QueryEscape("主会场=main")
	if r := send(t, "PUT", base+"/api/schedule"+q, testAdmin, "application/json", readPretalxFile(t)); r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	tk, err := lib.Get("salon-2026-101")
	if err != nil {
		t.Fatal(err)
	}
	hidden := true
	if _, err := lib.Update(context.Background(), tk.ID, archive.TalkPatch{Hidden: &hidden}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/schedule.json", "/schedule.ics"} {
		r := send(t, "GET", base+path, "", "", "")
		if r.status != 200 || strings.Contains(r.body, tk.GUID) || strings.Contains(r.body, tk.Title) {
			t.Errorf("GET %s with the talk hidden: %d, lists it:\n%s", path, r.status, r.body)
		}
		if !strings.Contains(r.body, "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0002") {
			t.Errorf("GET %s: the other talks are missing too:\n%s", path, r.body)
		}
	}
	hidden = false
	if _, err := lib.Update(context.Background(), tk.ID, archive.TalkPatch{Hidden: &hidden}); err != nil {
		t.Fatal(err)
	}
	if r := send(t, "GET", base+"/schedule.json", "", "", ""); !strings.Contains(r.body, tk.GUID) {
		t.Errorf("published again, the talk is still left out:\n%s", r.body)
	}
}
