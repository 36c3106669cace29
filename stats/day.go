package stats

import (
	"maps"
	"slices"
	"time"
)

// Totals are the numbers of one talk, one stage or the whole day. They are
// what is persisted and what the API shows: counts and a series, never an
// identity.
type Totals struct {
	// LiveViewersUnique is how many distinct viewers fetched the live
	// playlist (while the talk was live, for a talk).
	LiveViewersUnique int `json:"live_viewers_unique"`
	// LiveViewersPeak is the most viewers at once, and when.
	LiveViewersPeak   int       `json:"live_viewers_peak"`
	LiveViewersPeakAt time.Time `json:"live_viewers_peak_at,omitzero"`
	// ReplayViewersUnique is how many distinct viewers opened the replay.
	ReplayViewersUnique int `json:"replay_viewers_unique"`
	// DownloadsSlides counts distinct (viewer, file) slide fetches: a
	// viewer paging a PDF with Range requests counts once.
	DownloadsSlides int `json:"downloads_slides"`
	// DownloadsMP4 counts distinct viewers who downloaded the MP4.
	DownloadsMP4 int `json:"downloads_mp4"`
	// Viewers is, per minute, the most viewers at once in that minute;
	// minutes nobody watched are left out (Fill puts them back as 0).
	Viewers []Point `json:"viewers"`
}

// Point is one minute of a viewers series.
type Point struct {
	At    time.Time `json:"at"`
	Count int       `json:"count"`
}

// Day is one day's numbers: the whole day, each stage and each talk.
type Day struct {
	// Date is the day in the counter's zone, "2006-01-02".
	Date string `json:"date"`
	Totals
	Stages map[string]Totals `json:"stages"`
	Talks  map[string]Totals `json:"talks"`
}

// add adds b to a: unique counts add (viewers counted by two runs of salon,
// or on two days, count twice: the salt that would tell them apart is never
// kept), peaks take the larger, series merge by minute taking the larger.
func (a Totals) add(b Totals) Totals {
	a.LiveViewersUnique += b.LiveViewersUnique
	if b.LiveViewersPeak > a.LiveViewersPeak {
		a.LiveViewersPeak, a.LiveViewersPeakAt = b.LiveViewersPeak, b.LiveViewersPeakAt
	}
	a.ReplayViewersUnique += b.ReplayViewersUnique
	a.DownloadsSlides += b.DownloadsSlides
	a.DownloadsMP4 += b.DownloadsMP4
	a.Viewers = mergeSeries(a.Viewers, b.Viewers)
	return a
}

// mergeSeries merges two series by minute, keeping the larger count.
func mergeSeries(a, b []Point) []Point {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return slices.Clone(b)
	}
	m := make(map[int64]int, len(a)+len(b))
	for _, p := range a {
		m[p.At.Unix()] = max(m[p.At.Unix()], p.Count)
	}
	for _, p := range b {
		m[p.At.Unix()] = max(m[p.At.Unix()], p.Count)
	}
	return seriesOf(m)
}

// seriesOf turns minute (Unix seconds of its start) → count into a sorted
// series in UTC.
func seriesOf(m map[int64]int) []Point {
	out := make([]Point, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Point{At: time.Unix(k, 0).UTC(), Count: m[k]})
	}
	return out
}

// maxFill bounds Fill: two days of minutes.
const maxFill = 2 * 24 * 60

// Fill returns the series with every minute from from to to (inclusive,
// truncated to minutes), the missing ones as 0, for charts. A zero from or
// to is taken from the series' ends. At most two days of minutes.
func Fill(pts []Point, from, to time.Time) []Point {
	if len(pts) > 0 {
		if from.IsZero() || pts[0].At.Before(from) {
			from = pts[0].At
		}
		if last := pts[len(pts)-1].At; to.IsZero() || last.After(to) {
			to = last
		}
	}
	if from.IsZero() || to.IsZero() {
		return []Point{}
	}
	from, to = from.Truncate(time.Minute).UTC(), to.Truncate(time.Minute).UTC()
	if to.Sub(from) > maxFill*time.Minute {
		from = to.Add(-maxFill * time.Minute)
	}
	out := make([]Point, 0, int(to.Sub(from)/time.Minute)+1)
	i := 0
	for t := from; !t.After(to); t = t.Add(time.Minute) {
		for i < len(pts) && pts[i].At.Before(t) {
			i++
		}
		n := 0
		if i < len(pts) && pts[i].At.Equal(t) {
			n = pts[i].Count
		}
		out = append(out, Point{At: t, Count: n})
	}
	return out
}
