package programme

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/schedule"
)

// importFakeLibrary is a talk library in memory that validates like the
// real one and counts its writes.
type importFakeLibrary struct {
	talks  map[string]archive.Talk
	writes int
	fail   error // returned by the next write, when set
}

func (f *importFakeLibrary) List() []archive.Talk {
	out := slices.Collect(maps.Values(f.talks))
	slices.SortFunc(out, func(a, b archive.Talk) int {
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

func (f *importFakeLibrary) Create(_ context.Context, t archive.Talk) (archive.Talk, error) {
	if f.fail != nil {
		return archive.Talk{}, f.fail
	}
	if t.ID == "" {
		taken := map[string]bool{}
		for id := range f.talks {
			taken[id] = true
		}
		t.ID = planFreeID(archive.TalkIDFor(t, time.UTC), taken)
	} else if _, ok := f.talks[t.ID]; ok {
		return archive.Talk{}, fmt.Errorf("id %s taken: %w", t.ID, archive.ErrConflict)
	}
	if err := t.Validate(); err != nil {
		return archive.Talk{}, err
	}
	f.talks[t.ID] = t
	f.writes++
	return t, nil
}

func (f *importFakeLibrary) Update(_ context.Context, id string, p archive.TalkPatch) (archive.Talk, error) {
	if f.fail != nil {
		return archive.Talk{}, f.fail
	}
	t, ok := f.talks[id]
	if !ok {
		return archive.Talk{}, archive.ErrNotFound
	}
	if p.Recording != nil {
		return archive.Talk{}, errors.New("an import must never patch a recording window")
	}
	for _, s := range []struct {
		from *string
		to   *string
	}{{p.Title, &t.Title}, {p.Stage, &t.Stage}, {p.Abstract, &t.Abstract}, {p.GUID, &t.GUID}, {p.Slug, &t.Slug}, {p.Track, &t.Track}, {p.Language, &t.Language}} {
		if s.from != nil {
			*s.to = *s.from
		}
	}
	if p.Speakers != nil {
		t.Speakers = slices.Clone(*p.Speakers)
	}
	if p.StartsAt != nil {
		t.StartsAt = *p.StartsAt
	}
	if p.EndsAt != nil {
		t.EndsAt = *p.EndsAt
	}
	if p.DoNotRecord != nil {
		t.DoNotRecord = *p.DoNotRecord
	}
	if err := t.Validate(); err != nil {
		return archive.Talk{}, err
	}
	f.talks[id] = t
	f.writes++
	return t, nil
}

func importReadPretalx(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("../schedule/testdata/pretalx.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func importParse(t testing.TB, data string) *schedule.Schedule {
	t.Helper()
	s, err := schedule.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func importIDs(items []ImportItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	slices.Sort(out)
	return out
}

const (
	importGUID1 = "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0001" // 开源社区的一天, 主会场 10:00
	importGUID2 = "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0002" // Rust in Production, 主会场 11:00, do_not_record
	importGUID3 = "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0003" // 动手实践, Workshop Room 10:00
)

// TestPlanImport_Sequence imports a pretalx schedule with two rooms and
// Chinese titles, then again after each change an organiser makes, into one
// library. Each step states what the import must report and write.
func TestPlanImport_Sequence(t *testing.T) {
	base := importReadPretalx(t)
	lib := &importFakeLibrary{talks: map[string]archive.Talk{}}
	ctx := context.Background()
	recStart := time.Date(2026, 12, 5, 2, 1, 0, 0, time.UTC)

	steps := []struct {
		name                                 string
		data                                 string
		rooms                                map[string]string
		before                               func(t *testing.T) // changes made in salon before this import
		created, updated, unchanged, removed []string
		writes                               int
		check                                func(t *testing.T, r ImportReport)
	}{
		{
			name:  "first import",
			data:  base,
			rooms: map[string]string{"Workshop Room": "workshop"},
			// Readable ids for Chinese titles: from pretalx's slug; the
			// title where it says something in ASCII.
			created: []string{"rust-in-production-rust", "salon-2026-101", "salon-2026-103"},
			writes:  3,
			check: func(t *testing.T, r ImportReport) {
				want := []ImportRoom{{Room: "主会场", Stage: "room-1", Derived: true}, {Room: "Workshop Room", Stage: "workshop"}}
				if !slices.Equal(r.Rooms, want) {
					t.Errorf("rooms %+v, want %+v", r.Rooms, want)
				}
				tk := lib.talks["salon-2026-101"]
				if tk.Title != "开源社区的一天" || tk.GUID != importGUID1 || tk.Stage != "room-1" || len(tk.Speakers) != 2 || tk.Speakers[0].Name != "张伟" ||
					tk.StartsAt.Format(time.RFC3339) != "2026-12-05T02:00:00Z" || tk.EndsAt.Sub(tk.StartsAt) != 45*time.Minute || tk.Language != "zh" || tk.Track != "社区" {
					t.Errorf("talk = %+v", tk)
				}
				if !lib.talks["rust-in-production-rust"].DoNotRecord || lib.talks["salon-2026-103"].Stage != "workshop" {
					t.Errorf("talks = %+v", lib.talks)
				}
			},
		},
		{
			name:      "same file again writes nothing",
			data:      base,
			rooms:     map[string]string{"Workshop Room": "workshop"},
			unchanged: []string{"rust-in-production-rust", "salon-2026-101", "salon-2026-103"},
		},
		{
			name:  "changed times while the first talk is live",
			data:  strings.NewReplacer(`"date": "2026-12-05T10:00:00+08:00",`+"\n"+`                "start": "10:00",`+"\n"+`                "duration": "00:45"`, `"date": "2026-12-05T10:05:00+08:00",`+"\n"+`                "start": "10:05",`+"\n"+`                "duration": "00:50"`).Replace(base),
			rooms: map[string]string{"Workshop Room": "workshop"},
			before: func(t *testing.T) {
				tk := lib.talks["salon-2026-101"]
				tk.Recording = &archive.Window{Start: recStart}
				tk.Slides = []archive.Slide{{Name: "deck.pdf", Size: 10, Type: "application/pdf", SHA256: strings.Repeat("a", 64), UploadedAt: recStart}}
				lib.talks[tk.ID] = tk
			},
			updated:   []string{"salon-2026-101"},
			unchanged: []string{"rust-in-production-rust", "salon-2026-103"},
			writes:    1,
			check: func(t *testing.T, r ImportReport) {
				if !slices.Equal(r.Updated[0].Fields, []string{"starts_at", "ends_at"}) {
					t.Errorf("fields %q", r.Updated[0].Fields)
				}
				tk := lib.talks["salon-2026-101"]
				if tk.StartsAt.Format(time.RFC3339) != "2026-12-05T02:05:00Z" || tk.EndsAt.Format(time.RFC3339) != "2026-12-05T02:55:00Z" {
					t.Errorf("times %s–%s", tk.StartsAt, tk.EndsAt)
				}
				if !tk.Live() || !tk.Recording.Start.Equal(recStart) || len(tk.Slides) != 1 {
					t.Errorf("the live talk lost its recording or slides: %+v", tk)
				}
			},
		},
		{
			name: "a removed event is reported, not deleted",
			data: strings.Replace(strings.Replace(base, `"date": "2026-12-05T10:00:00+08:00",`+"\n"+`                "start": "10:00",`+"\n"+`                "duration": "00:45"`, `"date": "2026-12-05T10:05:00+08:00",`+"\n"+`                "start": "10:05",`+"\n"+`                "duration": "00:50"`, 1),
				`"guid": "`+importGUID3+`"`, `"guid": "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0099"`, 1),
			rooms:     map[string]string{"Workshop Room": "workshop"},
			created:   []string{"salon-2026-103-2"},
			unchanged: []string{"rust-in-production-rust", "salon-2026-101"},
			removed:   []string{"salon-2026-103"},
			writes:    1,
			check: func(t *testing.T, r ImportReport) {
				if _, ok := lib.talks["salon-2026-103"]; !ok {
					t.Error("the removed event's talk was deleted")
				}
			},
		},
		{
			name: "a renamed room mapping moves talks that have no recording",
			data: strings.Replace(strings.Replace(base, `"date": "2026-12-05T10:00:00+08:00",`+"\n"+`                "start": "10:00",`+"\n"+`                "duration": "00:45"`, `"date": "2026-12-05T10:05:00+08:00",`+"\n"+`                "start": "10:05",`+"\n"+`                "duration": "00:50"`, 1),
				`"guid": "`+importGUID3+`"`, `"guid": "6f1c6b0e-2d52-5d1f-8a55-1c1b4f3a0099"`, 1),
			rooms:     map[string]string{"主会场": "main", "Workshop Room": "workshop"},
			updated:   []string{"rust-in-production-rust"},
			unchanged: []string{"salon-2026-101", "salon-2026-103-2"},
			removed:   []string{"salon-2026-103"},
			writes:    1,
			check: func(t *testing.T, r ImportReport) {
				if got := lib.talks["rust-in-production-rust"].Stage; got != "main" {
					t.Errorf("stage %q, want main", got)
				}
				if got := lib.talks["salon-2026-101"].Stage; got != "room-1" {
					t.Errorf("the recorded talk moved to %q", got)
				}
				if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `"salon-2026-101" was recorded on stage room-1`) {
					t.Errorf("warnings %q", r.Warnings)
				}
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			s := importParse(t, st.data)
			plan := PlanImport(lib.List(), s, st.rooms)
			if plan.Writes() != st.writes {
				t.Errorf("plan writes %d, want %d", plan.Writes(), st.writes)
			}
			before := lib.writes
			r, err := ImportApply(ctx, lib, plan)
			if err != nil {
				t.Fatal(err)
			}
			if got := lib.writes - before; got != st.writes {
				t.Errorf("%d writes, want %d", got, st.writes)
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"created", importIDs(r.Created), st.created}, {"updated", importIDs(r.Updated), st.updated}, {"unchanged", importIDs(r.Unchanged), st.unchanged}, {"removed", importIDs(r.Removed), st.removed}} {
				want := c.want
				if want == nil {
					want = []string{}
				}
				if !slices.Equal(c.got, want) {
					t.Errorf("%s %q, want %q", c.what, c.got, c.want)
				}
			}
			if st.check != nil {
				st.check(t, r)
			}
		})
	}
}

// A recorded talk's do_not_record is not changed by an import: marking it
// withdraws the replay, which is the organiser's decision.
func TestPlanImport_DoNotRecordOfRecordedTalk(t *testing.T) {
	s := importParse(t, importReadPretalx(t))
	end := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	existing := []archive.Talk{{
		ID: "rust", Title: "Rust in Production: 生产环境中的 Rust", GUID: importGUID2, Stage: "room-1",
		Recording: &archive.Window{Start: end.Add(-30 * time.Minute), End: &end},
	}}
	plan := PlanImport(existing, s, nil)
	if len(plan.Updated) != 1 || slices.Contains(plan.Updated[0].Fields, "do_not_record") || plan.patches[0].DoNotRecord != nil || plan.patches[0].Recording != nil {
		t.Fatalf("updated %+v patch %+v", plan.Updated, plan.patches)
	}
	if !slices.ContainsFunc(plan.Warnings, func(w string) bool { return strings.Contains(w, "do_not_record=true") }) {
		t.Errorf("warnings %q", plan.Warnings)
	}
}

func TestPlanStageForRooms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rooms []string
		m     map[string]string
		want  []string
	}{
		{"ascii names", []string{"Hall A", "Saal 1"}, nil, []string{"hall-a", "saal-1"}},
		{"chinese names by place", []string{"主会场", "分会场"}, nil, []string{"room-1", "room-2"}},
		{"mixed, too short to say something", []string{"A厅", "B"}, nil, []string{"room-1", "room-2"}},
		{"mapping wins and is avoided", []string{"Main", "主会场"}, map[string]string{"主会场": "main"}, []string{"main-2", "main"}},
		{"collision between derived", []string{"Hall A", "hall a"}, nil, []string{"hall-a", "hall-a-2"}},
		{"bad mapping falls back", []string{"Hall A"}, map[string]string{"Hall A": "Hall A"}, []string{"hall-a"}},
		{"long name", []string{strings.Repeat("Grand Ballroom ", 10)}, nil, []string{strings.TrimRight(strings.Repeat("grand-ballroom-", 5)[:64], "-")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range PlanStageForRooms(tc.rooms, tc.m) {
				got = append(got, r.Stage)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("stages %q, want %q", got, tc.want)
			}
		})
	}
}

func TestImportCheckRooms(t *testing.T) {
	if err := ImportCheckRooms(map[string]string{"主会场": "main", "B": "b-2"}); err != nil {
		t.Error(err)
	}
	err := ImportCheckRooms(map[string]string{"主会场": "Main Hall"})
	if !errors.Is(err, archive.ErrInvalid) || !strings.Contains(err.Error(), "主会场") {
		t.Errorf("err = %v", err)
	}
}

// A failing library stops the import with an error naming the talk, and
// the report says what was done before.
func TestImportApply_Failure(t *testing.T) {
	lib := &importFakeLibrary{talks: map[string]archive.Talk{}, fail: errors.New("bucket unreachable")}
	r, err := ImportSchedule(context.Background(), lib, importParse(t, importReadPretalx(t)), nil)
	if err == nil || !strings.Contains(err.Error(), "bucket unreachable") || !strings.Contains(err.Error(), importGUID3) {
		t.Fatalf("err = %v", err)
	}
	if len(r.Created) != 0 || len(lib.talks) != 0 {
		t.Errorf("report %+v, talks %d", r, len(lib.talks))
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"created":[]`) {
		t.Errorf("report JSON %s", b)
	}
}

// importCountingStore counts the writes that reach the bucket.
type importCountingStore struct {
	archive.Store
	puts atomic.Int64
}

func (c *importCountingStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, r, size, contentType)
}

func (c *importCountingStore) PutIf(ctx context.Context, key string, data []byte, contentType string, cond archive.Condition) (string, error) {
	c.puts.Add(1)
	return c.Store.PutIf(ctx, key, data, contentType, cond)
}

// With the real talk library on a directory: the import creates valid
// talk.json files, and a re-import puts nothing in the bucket.
func TestImportSchedule_Library(t *testing.T) {
	dir := &archive.DirStore{Root: t.TempDir()}
	if err := dir.Initialize(); err != nil {
		t.Fatal(err)
	}
	store := &importCountingStore{Store: dir}
	lib := &archive.Library{Store: store}
	ctx := context.Background()
	if err := lib.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	s := importParse(t, importReadPretalx(t))
	r, err := ImportSchedule(ctx, lib, s, map[string]string{"主会场": "main"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Created) != 3 || store.puts.Load() != 3 {
		t.Fatalf("created %d, puts %d", len(r.Created), store.puts.Load())
	}
	// A second library on the same bucket reads the talks back.
	lib2 := &archive.Library{Store: dir}
	if err := lib2.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	tk, err := lib2.Get("salon-2026-101")
	if err != nil || tk.Title != "开源社区的一天" || tk.Stage != "main" || tk.GUID != importGUID1 {
		t.Fatalf("talk %+v, err %v", tk, err)
	}
	store.puts.Store(0)
	r, err = ImportSchedule(ctx, lib, s, map[string]string{"主会场": "main"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Unchanged) != 3 || len(r.Created)+len(r.Updated) != 0 || store.puts.Load() != 0 {
		t.Errorf("re-import: %+v, %d puts", r, store.puts.Load())
	}
}

func TestImportedSchedule(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	start := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	end := start.Add(40 * time.Minute)
	talks := []archive.Talk{
		{ID: "salon-2026-101", Title: "开源社区的一天", GUID: importGUID1, Stage: "main", StartsAt: start, EndsAt: start.Add(45 * time.Minute),
			Speakers: []archive.Speaker{{Name: "张伟"}}, Recording: &archive.Window{Start: start, End: &end},
			Slides: []archive.Slide{{Name: "deck v2.pdf"}}},
		{ID: "by-hand", Title: "Lightning talks", Stage: "main", StartsAt: start.Add(time.Hour)},
		{ID: "secret", Title: "不录", GUID: importGUID2, Stage: "main", StartsAt: start.Add(2 * time.Hour), EndsAt: start.Add(3 * time.Hour), DoNotRecord: true, Recording: &archive.Window{Start: start, End: &end}},
		{ID: "unscheduled", Title: "No time", Stage: "main"},
		{ID: "withdrawn", Title: "撤下的报告", GUID: importGUID3, Stage: "main", StartsAt: start.Add(4 * time.Hour), Hidden: true},
	}
	s := ImportedSchedule(talks, ImportExportOptions{
		Title: "沙龙", TimeZone: shanghai, Rooms: map[string]string{"主会场": "main"},
		URL: func(p string) string { return "https://salon.example.org" + p },
	})
	if len(s.Events) != 3 {
		t.Fatalf("%d events, want 3 (the talk without a time and the hidden one are left out)", len(s.Events))
	}
	e := s.Events[0]
	if e.Room != "主会场" || e.GUID != importGUID1 || e.URL != "https://salon.example.org/talks/salon-2026-101" || e.Duration != 45*time.Minute || e.Persons[0] != "张伟" {
		t.Errorf("event %+v", e)
	}
	if len(e.Links) != 2 || e.Links[1].URL != "https://salon.example.org/archive/talks/salon-2026-101/index.m3u8" ||
		len(e.Attachments) != 2 || e.Attachments[0].URL != "https://salon.example.org/talks/salon-2026-101/download.mp4" ||
		e.Attachments[1].URL != "https://salon.example.org/archive/talks/salon-2026-101/slides/deck%20v2.pdf" {
		t.Errorf("links %+v attachments %+v", e.Links, e.Attachments)
	}
	if h := s.Events[1]; !schedule.ValidGUID(h.GUID) || h.Duration != importDefaultLength || len(h.Links) != 0 {
		t.Errorf("hand-made talk %+v", h)
	}
	if d := s.Events[2]; !d.DoNotRecord || len(d.Links) != 0 || len(d.Attachments) != 0 {
		t.Errorf("do_not_record talk has replay links: %+v", d)
	}
	// What it writes is a schedule.json that Parse takes back, same guids.
	var buf strings.Builder
	if err := schedule.WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := schedule.Parse([]byte(buf.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(back.Events) != 3 || back.Events[0].GUID != importGUID1 || back.Conference.TimeZoneName != "Asia/Shanghai" {
		t.Errorf("back %+v", back)
	}
	// Re-importing the export over the same talks changes nothing that
	// matters: same guids, same times, same rooms.
	plan := PlanImport(talks, back, map[string]string{"主会场": "main"})
	if len(plan.Created) != 1 || plan.Created[0].Title != "Lightning talks" {
		t.Errorf("created %+v (only the hand-made talk, which had no guid)", plan.Created)
	}
}

// FuzzPlanImport: whatever schedule Parse accepts, the planned talks pass
// the talk library's validation (an import never stops half-way on a talk
// it made itself), and applying the plan twice writes nothing the second
// time.
func FuzzPlanImport(f *testing.F) {
	f.Add([]byte(importReadPretalx(f)), "Workshop Room", "workshop")
	if data, err := os.ReadFile("../schedule/testdata/frab.xml"); err == nil {
		f.Add(data, "Hall A", "main")
	}
	f.Fuzz(func(t *testing.T, data []byte, room, stage string) {
		s, err := schedule.Parse(data)
		if err != nil {
			return
		}
		rooms := map[string]string{room: stage}
		if ImportCheckRooms(rooms) != nil {
			rooms = nil
		}
		lib := &importFakeLibrary{talks: map[string]archive.Talk{}}
		if _, err := ImportSchedule(context.Background(), lib, s, rooms); err != nil {
			t.Fatalf("import of a schedule Parse accepted: %v", err)
		}
		if len(lib.talks) != len(s.Events) {
			t.Fatalf("%d talks for %d events", len(lib.talks), len(s.Events))
		}
		before := lib.writes
		r, err := ImportSchedule(context.Background(), lib, s, rooms)
		if err != nil || lib.writes != before || len(r.Unchanged) != len(s.Events) {
			t.Fatalf("re-import: %v, %d writes, %d unchanged of %d", err, lib.writes-before, len(r.Unchanged), len(s.Events))
		}
	})
}
