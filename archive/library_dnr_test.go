package archive

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLibrary_DoNotRecord: a do_not_record talk goes live and ends like any
// other, but nothing of it is published: no replay playlist, slide track,
// chat log or download; marking a recorded talk so deletes what was cut.
func TestLibrary_DoNotRecord(t *testing.T) {
	s := libStore(t)
	run := cutRun{start: cutT0, n: 30, dur: 2 * time.Second, ended: true}
	run.write(t, s, "main", true)
	l := newLibrary(t, s)
	ctx := t.Context()
	in := sampleTalk("Off the record")
	in.DoNotRecord = true
	tk := mustTalk(t)(l.Create(ctx, in))
	mustTalk(t)(l.Start(ctx, tk.ID, cutT0.Add(5*time.Second)))
	if live, ok := l.LiveOn("main"); !ok || live.ID != tk.ID {
		t.Fatalf("a do_not_record talk is on stage like any other: LiveOn %v %+v", ok, live)
	}
	l.RunUpdated(ctx, "main")
	mustTalk(t)(l.Stop(ctx, tk.ID, cutT0.Add(40*time.Second)))
	mustTalk(t)(l.SaveSlideChanges(ctx, tk.ID, []SlideChange{{At: cutT0.Add(10 * time.Second), Page: 2}}))
	if err := l.SaveChat(ctx, tk.ID, []byte(`{"id":"m1"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if final, err := l.RecutFinal(ctx, tk.ID); err != nil || !final {
		t.Fatalf("RecutFinal of a do_not_record talk: %v %v, want final at once", final, err)
	}
	if sel, err := l.Selection(ctx, tk.ID); err != nil || len(sel.Parts) != 0 {
		t.Fatalf("Selection (the download) of a do_not_record talk: %d parts, %v", len(sel.Parts), err)
	}
	for k := range snapshot(t, s) {
		if strings.HasPrefix(k, "talks/"+tk.ID+"/") && k != TalkKey(tk.ID) {
			t.Errorf("a do_not_record talk published %s", k)
		}
	}

	// A recorded talk marked do_not_record afterwards loses its replay.
	other := mustTalk(t)(l.Create(ctx, sampleTalk("Recorded first")))
	mustTalk(t)(l.Start(ctx, other.ID, cutT0.Add(5*time.Second)))
	mustTalk(t)(l.Stop(ctx, other.ID, cutT0.Add(20*time.Second)))
	if final, err := l.RecutFinal(ctx, other.ID); err != nil || !final {
		t.Fatalf("RecutFinal: %v %v", final, err)
	}
	if err := l.SaveChat(ctx, other.ID, []byte(`{"id":"m1"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	yes := true
	mustTalk(t)(l.Update(ctx, other.ID, TalkPatch{DoNotRecord: &yes}))
	for _, key := range []string{TalkPlaylistKey(other.ID), ChatKey(other.ID)} {
		if _, ok := snapshot(t, s)[key]; ok {
			t.Errorf("%s kept after the talk was marked do_not_record", key)
		}
	}
	if _, err := l.RecutFinal(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RecutFinal of an unknown talk: %v", err)
	}
}

// TestLibrary_Changed: every saved or deleted talk wakes the waiters.
func TestLibrary_Changed(t *testing.T) {
	l := newLibrary(t, libStore(t))
	ctx := t.Context()
	steps := []struct {
		name string
		do   func() error
	}{
		{"create", func() error { _, err := l.Create(ctx, Talk{ID: "a", Title: "A", Stage: "main"}); return err }},
		{"update", func() error { s := "B"; _, err := l.Update(ctx, "a", TalkPatch{Title: &s}); return err }},
		{"start", func() error { _, err := l.Start(ctx, "a", time.Time{}); return err }},
		{"delete", func() error { return l.Delete(ctx, "a") }},
	}
	for _, st := range steps {
		ch := l.Changed()
		select {
		case <-ch:
			t.Fatalf("%s: closed before the change", st.name)
		default:
		}
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		select {
		case <-ch:
		default:
			t.Fatalf("%s did not close Changed", st.name)
		}
	}
}
