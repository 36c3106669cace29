package stats

import (
	"testing"
	"time"
)

// Two nodes' days add: unique counts and downloads sum, the per-minute
// series sum minute by minute, the peak is the summed minute's when it is
// larger than either node's own, and a talk or stage counted on one node
// only is kept as it is.
func TestSumNodes(t *testing.T) {
	m0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	m1 := m0.Add(time.Minute)
	a := Day{Date: "2026-12-02",
		Totals: Totals{LiveViewersUnique: 10, LiveViewersPeak: 6, LiveViewersPeakAt: m0, ReplayViewersUnique: 2, DownloadsMP4: 1,
			Viewers: []Point{{m0, 6}, {m1, 4}}},
		Stages: map[string]Totals{"main": {LiveViewersUnique: 10, LiveViewersPeak: 6, Viewers: []Point{{m0, 6}}}},
		Talks:  map[string]Totals{"only-a": {ReplayViewersUnique: 3}},
	}
	b := Day{Date: "2026-12-02",
		Totals: Totals{LiveViewersUnique: 5, LiveViewersPeak: 5, LiveViewersPeakAt: m1, DownloadsSlides: 7, Viewers: []Point{{m1, 5}}},
		Stages: map[string]Totals{"main": {LiveViewersUnique: 5, LiveViewersPeak: 5, Viewers: []Point{{m1, 5}}}},
	}
	got := SumNodes(a, b)
	tot := got.Totals
	if tot.LiveViewersUnique != 15 || tot.ReplayViewersUnique != 2 || tot.DownloadsSlides != 7 || tot.DownloadsMP4 != 1 {
		t.Errorf("day totals %+v", tot)
	}
	if len(tot.Viewers) != 2 || tot.Viewers[0].Count != 6 || tot.Viewers[1].Count != 9 {
		t.Errorf("day series %+v, want 6 then 4+5", tot.Viewers)
	}
	if tot.LiveViewersPeak != 9 || !tot.LiveViewersPeakAt.Equal(m1) {
		t.Errorf("day peak %d at %v, want 9 at %v", tot.LiveViewersPeak, tot.LiveViewersPeakAt, m1)
	}
	if s := got.Stages["main"]; s.LiveViewersUnique != 15 || s.LiveViewersPeak != 6 {
		t.Errorf("stage main %+v, want 15 unique, peak 6 (the minutes do not overlap)", s)
	}
	if tk := got.Talks["only-a"]; tk.ReplayViewersUnique != 3 {
		t.Errorf("talk only-a %+v", tk)
	}
	if got.Date != "2026-12-02" {
		t.Errorf("date %q", got.Date)
	}
	if one := SumNodes(a); one.Totals.LiveViewersPeak != 6 || one.Totals.LiveViewersUnique != 10 {
		t.Errorf("one node's day changed: %+v", one.Totals)
	}
}
