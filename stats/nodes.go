package stats

// Several salon nodes (-nats) count side by side: each counts the viewers
// that reached it, and the organiser sees the sum. The unique counts add:
// a viewer who reached two nodes (a load balancer that moved them) counts
// twice. The nodes' HyperLogLog sketches cannot be merged instead, because
// each node salts its sketches with its own day's salt, made at random and
// never written or sent anywhere (package comment); sharing it would let
// whoever reads NATS tell viewers apart across nodes.

// SumNodes adds the numbers that several nodes counted on the same day:
// unique counts and downloads add, per-minute viewers add minute by minute
// (each node's most viewers at once in the minute, so the sum may exceed
// the true most by a little), and the peak is the larger of the summed
// series' largest minute and any node's own peak. Stages and talks add the
// same way. The date is the first day's.
func SumNodes(days ...Day) Day {
	out := Day{Stages: map[string]Totals{}, Talks: map[string]Totals{}}
	if len(days) == 0 {
		return out
	}
	out.Date = days[0].Date
	stages, talks := map[string][]Totals{}, map[string][]Totals{}
	all := make([]Totals, 0, len(days))
	for _, d := range days {
		all = append(all, d.Totals)
		for k, t := range d.Stages {
			stages[k] = append(stages[k], t)
		}
		for k, t := range d.Talks {
			talks[k] = append(talks[k], t)
		}
	}
	out.Totals = SumNodeTotals(all...)
	for k, ts := range stages {
		out.Stages[k] = SumNodeTotals(ts...)
	}
	for k, ts := range talks {
		out.Talks[k] = SumNodeTotals(ts...)
	}
	return out
}

// SumNodeTotals adds the totals of one talk, stage or day that several
// nodes counted (SumNodes).
func SumNodeTotals(ts ...Totals) Totals {
	var out Totals
	minutes := map[int64]int{}
	for _, t := range ts {
		out.LiveViewersUnique += t.LiveViewersUnique
		out.ReplayViewersUnique += t.ReplayViewersUnique
		out.DownloadsSlides += t.DownloadsSlides
		out.DownloadsMP4 += t.DownloadsMP4
		if t.LiveViewersPeak > out.LiveViewersPeak {
			out.LiveViewersPeak, out.LiveViewersPeakAt = t.LiveViewersPeak, t.LiveViewersPeakAt
		}
		for _, p := range t.Viewers {
			minutes[p.At.Unix()] += p.Count
		}
	}
	out.Viewers = seriesOf(minutes)
	for _, p := range out.Viewers {
		if p.Count > out.LiveViewersPeak {
			out.LiveViewersPeak, out.LiveViewersPeakAt = p.Count, p.At
		}
	}
	return out
}
