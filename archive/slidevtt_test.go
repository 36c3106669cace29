package archive

import (
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
	if got := vttTime(3*time.Hour + 4*time.Minute + 5*time.Second + 6*time.Millisecond); got != "03:04:05.006" {
		t.Errorf("vttTime = %s", got)
	}
}
