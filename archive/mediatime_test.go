package archive

import (
	"strconv"
	"testing"
	"time"
)

func TestSelection_MediaTime(t *testing.T) {
	t0 := time.Date(2025, 4, 21, 10, 0, 0, 0, time.UTC)
	seg := func(at, dur time.Duration) CutSegment {
		return CutSegment{Key: "k", Start: t0.Add(at), Duration: dur}
	}
	// Run A: three 2 s segments from 10:00:00; a 54 s gap (publisher gone);
	// run B: two 4 s segments from 10:01:00.
	sel := Selection{Parts: []CutPart{
		{Run: "A", Segments: []CutSegment{seg(0, 2*time.Second), seg(2*time.Second, 2*time.Second), seg(4*time.Second, 2*time.Second)}},
		{Run: "B", Segments: []CutSegment{seg(time.Minute, 4*time.Second), seg(time.Minute+4*time.Second, 4*time.Second)}},
	}}
	cases := []struct {
		name string
		at   time.Duration // after t0
		want time.Duration
	}{
		{"before the first segment", -30 * time.Second, 0},
		{"first segment start", 0, 0},
		{"inside the second segment", 3500 * time.Millisecond, 3500 * time.Millisecond},
		{"end of run A is the start of run B", 6 * time.Second, 6 * time.Second},
		{"in the gap between runs", 30 * time.Second, 6 * time.Second},
		{"run B start", time.Minute, 6 * time.Second},
		{"inside run B's second segment", time.Minute + 5*time.Second, 11 * time.Second},
		{"after the last segment", time.Hour, 14 * time.Second},
	}
	for _, c := range cases {
		if got := sel.MediaTime(t0.Add(c.at)); got != c.want {
			t.Errorf("%s: MediaTime(t0%+v) = %v, want %v", c.name, c.at, got, c.want)
		}
	}
	if got := (&Selection{}).MediaTime(t0); got != 0 {
		t.Errorf("empty selection: MediaTime = %v, want 0", got)
	}
}

// The mapping agrees with the playlist a player reads: a wall-clock time at
// the program date-time of segment i maps to the sum of the EXTINF durations
// before it.
func TestSelection_MediaTime_matchesPlaylist(t *testing.T) {
	t0 := time.Date(2025, 4, 21, 10, 0, 0, 0, time.UTC)
	var segs []CutSegment
	at := t0
	for i := range 20 {
		d := 2*time.Second + time.Duration(i%3)*333*time.Millisecond
		segs = append(segs, CutSegment{Key: "stages/main/A/" + strconv.Itoa(i) + ".m4s", Start: at, Duration: d})
		at = at.Add(d)
	}
	sel := Selection{Parts: []CutPart{{Run: "A", Init: "stages/main/A/init-0.mp4", Segments: segs}}, Final: true}
	pl, err := sel.Playlist()
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseRunPlaylist(pl)
	if err != nil {
		t.Fatal(err)
	}
	var pos time.Duration
	for i, s := range p.Segments {
		if got := sel.MediaTime(s.Start); got != pos {
			t.Fatalf("segment %d: MediaTime(its PDT) = %v, want %v (sum of EXTINF before it)", i, got, pos)
		}
		pos += s.Duration
	}
}
