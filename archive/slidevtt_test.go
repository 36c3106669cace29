package archive

import (
	"errors"
	"testing"
	"time"
)

func TestSlidesVTT(t *testing.T) {
	t0 := time.Date(2025, 4, 21, 10, 0, 0, 0, time.UTC)
	seg := func(at time.Duration) CutSegment {
		return CutSegment{Key: "k", Start: t0.Add(at), Duration: 2 * time.Second}
	}
	// 10 s of recording from t0, a gap, then 4 s from t0+60s.
	sel := Selection{Parts: []CutPart{
		{Segments: []CutSegment{seg(0), seg(2 * time.Second), seg(4 * time.Second), seg(6 * time.Second), seg(8 * time.Second)}},
		{Segments: []CutSegment{seg(time.Minute), seg(time.Minute + 2*time.Second)}},
	}}
	changes := []SlideChange{
		{At: t0.Add(-time.Minute), Page: 1}, // before the recording: collapses into the next
		{At: t0.Add(-time.Second), Page: 2},
		{At: t0.Add(3500 * time.Millisecond), Page: 3},
		{At: t0.Add(61 * time.Second), Page: 4}, // after the gap: 10 s + 1 s
		{At: t0.Add(5 * time.Second), Page: 0},  // invalid: ignored
	}
	got := string(SlidesVTT(&sel, changes))
	want := `WEBVTT

1
00:00:00.000 --> 00:00:03.500
Slide 2

2
00:00:03.500 --> 00:00:11.000
Slide 3

3
00:00:11.000 --> 00:00:14.000
Slide 4
`
	if got != want {
		t.Errorf("SlidesVTT =\n%s\nwant\n%s", got, want)
	}
	if got := string(SlidesVTT(&Selection{}, nil)); got != "WEBVTT\n" {
		t.Errorf("empty = %q", got)
	}
	if got := VTTTime(3*time.Hour + 4*time.Minute + 5*time.Second + 6*time.Millisecond); got != "03:04:05.006" {
		t.Errorf("VTTTime = %s", got)
	}
}

// The page changes are kept in talk.json and rendered as slides.vtt over the
// replay; a corrected recording window re-renders the track.
func TestLibrary_SaveSlideChanges(t *testing.T) {
	s := libStore(t)
	run := cutRun{start: cutT0, n: 20, dur: 2 * time.Second}
	run.write(t, s, "main", true)
	l := newLibrary(t, s)
	ctx := t.Context()
	tk := mustTalk(t)(l.Create(ctx, sampleTalk("Slides")))
	mustTalk(t)(l.Start(ctx, tk.ID, cutT0.Add(4*time.Second)))
	mustTalk(t)(l.Stop(ctx, tk.ID, cutT0.Add(30*time.Second)))
	changes := []SlideChange{
		{At: cutT0.Add(5 * time.Second), Page: 1},
		{At: cutT0.Add(12 * time.Second), Page: 2},
		{At: cutT0.Add(20 * time.Second), Page: 5},
	}
	got := mustTalk(t)(l.SaveSlideChanges(ctx, tk.ID, changes))
	if len(got.SlideChanges) != 3 {
		t.Fatalf("SlideChanges = %+v", got.SlideChanges)
	}
	// The replay starts with the segment holding 10:00:04, at cutT0+4s: media
	// time = wall time - 4 s.
	want := "WEBVTT\n\n1\n00:00:01.000 --> 00:00:08.000\nSlide 1\n\n2\n00:00:08.000 --> 00:00:16.000\nSlide 2\n\n3\n00:00:16.000 --> 00:00:26.000\nSlide 5\n"
	if vtt := string(libGet(t, s, SlidesVTTKey(tk.ID))); vtt != want {
		t.Errorf("slides.vtt =\n%s\nwant\n%s", vtt, want)
	}
	// A fresh library reads the changes back from talk.json.
	again, err := newLibrary(t, s).Get(tk.ID)
	if err != nil || len(again.SlideChanges) != 3 || !again.SlideChanges[2].At.Equal(changes[2].At) {
		t.Fatalf("after reload: %+v, %v", again.SlideChanges, err)
	}
	// Moving the window's start re-renders the track on the new timeline.
	start := cutT0.Add(10 * time.Second)
	end := cutT0.Add(30 * time.Second)
	mustTalk(t)(l.Update(ctx, tk.ID, TalkPatch{Recording: &Window{Start: start, End: &end}}))
	want = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nSlide 1\n\n2\n00:00:02.000 --> 00:00:10.000\nSlide 2\n\n3\n00:00:10.000 --> 00:00:20.000\nSlide 5\n"
	if vtt := string(libGet(t, s, SlidesVTTKey(tk.ID))); vtt != want {
		t.Errorf("slides.vtt after re-cut =\n%s\nwant\n%s", vtt, want)
	}
	if _, err := l.SaveSlideChanges(ctx, tk.ID, []SlideChange{{Page: 2}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a change without a time: %v, want ErrInvalid", err)
	}
}
