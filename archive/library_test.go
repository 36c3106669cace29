package archive

import (
	"bytes"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
)

func newLibrary(t *testing.T, s Store) *Library {
	t.Helper()
	l := &Library{Store: s, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return cutT0.Add(time.Hour) }}
	if err := l.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	return l
}

// snapshot is every object's key → ETag and modification time.
func snapshot(t *testing.T, s Store) map[string]string {
	t.Helper()
	objs, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, o := range objs {
		m[o.Key] = o.ETag + " " + o.ModTime.String()
	}
	return m
}

func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if a[k] != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func sampleTalk(title string) Talk {
	return Talk{Title: title, Stage: "main", Speakers: []Speaker{{Name: "Ada"}},
		StartsAt: cutT0, EndsAt: cutT0.Add(30 * time.Minute)}
}

func TestLibrary_CRUD(t *testing.T) {
	s := libStore(t)
	l := newLibrary(t, s)
	ctx := t.Context()

	a, err := l.Create(ctx, sampleTalk("Über Café Networking!"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "uber-cafe-networking" || a.Version != TalkVersion {
		t.Fatalf("created %+v", a)
	}
	b, err := l.Create(ctx, sampleTalk("Über Café Networking!"))
	if err != nil || b.ID != "uber-cafe-networking-2" {
		t.Fatalf("second create: %v %q", err, b.ID)
	}
	early := sampleTalk("Early")
	early.StartsAt, early.EndsAt = cutT0.Add(-time.Hour), time.Time{}
	if _, err := l.Create(ctx, early); err != nil {
		t.Fatal(err)
	}
	explicit := sampleTalk("x")
	explicit.ID = "early"
	if _, err := l.Create(ctx, explicit); !errors.Is(err, ErrConflict) {
		t.Fatalf("taken explicit id: %v", err)
	}

	var ids []string
	for _, tk := range l.List() {
		ids = append(ids, tk.ID)
	}
	if got := strings.Join(ids, " "); got != "early uber-cafe-networking uber-cafe-networking-2" {
		t.Fatalf("List: %s", got)
	}

	title := "Networking, revised"
	u, err := l.Update(ctx, a.ID, TalkPatch{Title: &title})
	if err != nil || u.Title != title {
		t.Fatalf("Update: %v %+v", err, u)
	}
	// The caller's copy is not the library's.
	u.Speakers[0].Name = "changed"
	if g, _ := l.Get(a.ID); g.Speakers[0].Name != "Ada" || g.Title != title {
		t.Fatalf("Get after update: %+v", g)
	}

	// A fresh library on the same store has the same talks.
	if got, want := newLibrary(t, s).List(), l.List(); !talksEqual(got, want) {
		t.Fatalf("fresh library:\n%+v\nwant\n%+v", got, want)
	}

	if err := l.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted: %v", err)
	}
	if _, ok := snapshot(t, s)[TalkKey(b.ID)]; ok {
		t.Fatal("talk.json still stored")
	}
	if err := l.Delete(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func talksEqual(a, b []Talk) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ja, _ := a[i].MarshalJSON()
		jb, _ := b[i].MarshalJSON()
		if !bytes.Equal(ja, jb) {
			return false
		}
	}
	return true
}

// TestLibrary_Errors: every refused change leaves the bucket and the library
// as they were.
func TestLibrary_Errors(t *testing.T) {
	s := libStore(t)
	cutRun{start: cutT0, n: 30, dur: 2 * time.Second}.write(t, s, "main", true)
	l := newLibrary(t, s)
	ctx := t.Context()
	for _, id := range []string{"idle", "live", "done", "other"} {
		tk := sampleTalk(id)
		tk.ID = id
		if id == "other" {
			tk.Stage = "side"
		}
		if _, err := l.Create(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	mustTalk(t)(l.Start(ctx, "done", cutT0.Add(time.Second)))
	mustTalk(t)(l.Stop(ctx, "done", cutT0.Add(5*time.Second)))
	mustTalk(t)(l.Start(ctx, "live", cutT0.Add(10*time.Second)))

	early := cutT0
	empty := ""
	bad := strings.Repeat("x", 201)
	side := "side"
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"start live talk", func() error { _, err := l.Start(ctx, "live", time.Time{}); return err }, ErrConflict},
		{"start ended talk", func() error { _, err := l.Start(ctx, "done", time.Time{}); return err }, ErrConflict},
		{"start second live on stage", func() error { _, err := l.Start(ctx, "idle", time.Time{}); return err }, ErrConflict},
		{"stop never started", func() error { _, err := l.Stop(ctx, "idle", time.Time{}); return err }, ErrConflict},
		{"stop stopped", func() error { _, err := l.Stop(ctx, "done", time.Time{}); return err }, ErrConflict},
		{"stop before start", func() error { _, err := l.Stop(ctx, "live", early); return err }, ErrInvalid},
		{"patch end before start", func() error {
			_, err := l.Update(ctx, "done", TalkPatch{Recording: &Window{Start: cutT0.Add(time.Minute), End: &early}})
			return err
		}, ErrInvalid},
		{"patch empty title", func() error { _, err := l.Update(ctx, "idle", TalkPatch{Title: &empty}); return err }, ErrInvalid},
		{"patch long title", func() error { _, err := l.Update(ctx, "idle", TalkPatch{Title: &bad}); return err }, ErrInvalid},
		{"patch schedule end before start", func() error { _, err := l.Update(ctx, "idle", TalkPatch{EndsAt: &early}); return err }, ErrInvalid},
		{"patch live talk onto a stage with a live talk", func() error {
			if _, err := l.Start(ctx, "other", cutT0.Add(time.Second)); err != nil {
				return err
			}
			defer l.Update(ctx, "other", TalkPatch{Recording: &Window{Start: cutT0.Add(time.Second), End: libPtr(cutT0.Add(2 * time.Second))}})
			_, err := l.Update(ctx, "live", TalkPatch{Stage: &side})
			return err
		}, ErrConflict},
		{"get missing", func() error { _, err := l.Get("missing"); return err }, ErrNotFound},
		{"update missing", func() error { _, err := l.Update(ctx, "missing", TalkPatch{}); return err }, ErrNotFound},
		{"recut never started", func() error { return l.Recut(ctx, "idle") }, ErrConflict},
	}
	for _, id := range []string{"a/b", "..", "UPPER", "", strings.Repeat("a", 65), "a b"} {
		tests = append(tests,
			struct {
				name string
				do   func() error
				want error
			}{"get " + id, func() error { _, err := l.Get(id); return err }, ErrInvalid},
			struct {
				name string
				do   func() error
				want error
			}{"delete " + id, func() error { return l.Delete(ctx, id) }, ErrInvalid},
			struct {
				name string
				do   func() error
				want error
			}{"start " + id, func() error { _, err := l.Start(ctx, id, time.Time{}); return err }, ErrInvalid},
			struct {
				name string
				do   func() error
				want error
			}{"create " + id, func() error {
				tk := sampleTalk("x")
				tk.ID = id
				if id == "" {
					tk.Stage = "BAD STAGE"
				}
				_, err := l.Create(ctx, tk)
				return err
			}, ErrInvalid})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list := l.List()
			snap := snapshot(t, s)
			err := tc.do()
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			t.Logf("%v", err)
			if strings.HasPrefix(tc.name, "patch live talk onto") {
				return // it started and stopped "other" on purpose
			}
			if ch := changedKeys(snap, snapshot(t, s)); len(ch) > 0 {
				t.Fatalf("changed %v", ch)
			}
			if !talksEqual(list, l.List()) {
				t.Fatal("library changed")
			}
		})
	}
}

func mustTalk(t *testing.T) func(Talk, error) Talk {
	return func(tk Talk, err error) Talk {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
}

// TestLibrary_Live follows a talk from start to stop while its run grows,
// then corrects its window: only talks/{id}/ changes, never stages/.
func TestLibrary_Live(t *testing.T) {
	s := libStore(t)
	run := cutRun{start: cutT0, n: 10, dur: 2 * time.Second}
	run.write(t, s, "main", true)
	l := newLibrary(t, s)
	ctx := t.Context()
	tk := mustTalk(t)(l.Create(ctx, sampleTalk("Live talk")))
	mustTalk(t)(l.Start(ctx, tk.ID, cutT0.Add(5*time.Second)))
	if live, ok := l.LiveOn("main"); !ok || live.ID != tk.ID {
		t.Fatalf("LiveOn: %v %+v", ok, live)
	}
	segs := func(wantType string) int {
		t.Helper()
		p, err := hlscheck.CheckMediaPlaylist(libGet(t, s, TalkPlaylistKey(tk.ID)))
		if err != nil {
			t.Fatal(err)
		}
		if p.PlaylistType != wantType {
			t.Fatalf("type %s, want %s", p.PlaylistType, wantType)
		}
		return len(p.Segments)
	}
	if n := segs("EVENT"); n != 8 {
		t.Fatalf("%d segments at start", n)
	}
	run.n = 20
	run.write(t, s, "main", true)
	l.RunUpdated(ctx, "side") // another stage: nothing to do
	if n := segs("EVENT"); n != 8 {
		t.Fatalf("%d segments after another stage's update", n)
	}
	l.RunUpdated(ctx, "main")
	if n := segs("EVENT"); n != 18 {
		t.Fatalf("%d segments after the run grew", n)
	}
	// Stopped past the stored recording: EVENT until the run covers it.
	mustTalk(t)(l.Stop(ctx, tk.ID, cutT0.Add(50*time.Second)))
	if _, ok := l.LiveOn("main"); ok {
		t.Fatal("still live")
	}
	if n := segs("EVENT"); n != 18 {
		t.Fatalf("%d segments after stop", n)
	}
	run.n, run.ended = 30, true
	run.write(t, s, "main", true)
	l.RunUpdated(ctx, "main")
	if n := segs("VOD"); n != 23 {
		t.Fatalf("%d segments when final", n)
	}
	// A fresh library knows it is final; a restart is still refused.
	l2 := newLibrary(t, s)
	if _, err := l2.Start(ctx, tk.ID, time.Time{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("restart: %v", err)
	}

	snap := snapshot(t, s)
	fixed := &Window{Start: cutT0.Add(20 * time.Second), End: libPtr(cutT0.Add(40 * time.Second))}
	mustTalk(t)(l.Update(ctx, tk.ID, TalkPatch{Recording: fixed}))
	ch := changedKeys(snap, snapshot(t, s))
	slices.Sort(ch)
	if strings.Join(ch, " ") != TalkPlaylistKey(tk.ID)+" "+TalkKey(tk.ID) {
		t.Fatalf("changed %v", ch)
	}
	if n := segs("VOD"); n != 10 {
		t.Fatalf("%d segments after the fix", n)
	}
	snap = snapshot(t, s)
	if err := l.Recut(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if ch := changedKeys(snap, snapshot(t, s)); len(ch) != 1 || ch[0] != TalkPlaylistKey(tk.ID) {
		t.Fatalf("recut changed %v", ch)
	}
	if err := l.SaveChat(ctx, tk.ID, []byte(`{"id":"m1"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	snap = snapshot(t, s)
	if err := l.Delete(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, s)
	for k, v := range snap {
		if strings.HasPrefix(k, "stages/") && after[k] != v {
			t.Fatalf("delete touched %s", k)
		}
	}
	for k := range after {
		if strings.HasPrefix(k, "talks/") {
			t.Fatalf("delete left %s", k)
		}
	}
}

// TestLibrary_Initialize: broken talk.json objects are skipped (and their
// ids stay taken); fields of a newer salon survive a rewrite.
func TestLibrary_Initialize(t *testing.T) {
	s := libStore(t)
	put := func(key, body string) {
		if err := putBytes(t.Context(), s, key, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	put("talks/good/talk.json", `{"version":2,"id":"good","title":"Good","speakers":[],"stage":"main","starts_at":"2019-04-21T01:30:00Z","ends_at":"0001-01-01T00:00:00Z","future":{"x":[1,2]}}`)
	put("talks/notjson/talk.json", `{`)
	put("talks/wrongid/talk.json", `{"id":"other","title":"T","stage":"main"}`)
	put("talks/invalid/talk.json", `{"id":"invalid","title":"","stage":"main"}`)
	put("talks/UPPER/talk.json", `{"id":"UPPER","title":"T","stage":"main"}`)
	l := newLibrary(t, s)
	if got := l.List(); len(got) != 1 || got[0].ID != "good" {
		t.Fatalf("List: %+v", got)
	}
	tk := sampleTalk("x")
	tk.ID = "notjson"
	if _, err := l.Create(t.Context(), tk); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over a broken talk: %v", err)
	}
	title := "Better"
	mustTalk(t)(l.Update(t.Context(), "good", TalkPatch{Title: &title}))
	body := string(libGet(t, s, "talks/good/talk.json"))
	if !strings.Contains(body, `"future": {`) || !strings.Contains(body, `"version": 1`) || !strings.Contains(body, `"Better"`) {
		t.Fatalf("rewritten talk.json:\n%s", body)
	}
	if err := l.Delete(t.Context(), "notjson"); err != nil {
		t.Fatalf("delete a broken talk: %v", err)
	}
}

// TestLibrary_Concurrent runs readers and writers at once (for -race).
func TestLibrary_Concurrent(t *testing.T) {
	s := libStore(t)
	l := newLibrary(t, s)
	var wg sync.WaitGroup
	ids := map[string]bool{}
	var mu sync.Mutex
	for range 8 {
		wg.Go(func() {
			tk, err := l.Create(t.Context(), sampleTalk("Same title"))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[tk.ID] = true
			mu.Unlock()
			l.List()
			l.LiveOn("main")
		})
	}
	wg.Wait()
	if len(ids) != 8 || len(l.List()) != 8 {
		t.Fatalf("ids %v", slices.Collect(maps.Keys(ids)))
	}
}
