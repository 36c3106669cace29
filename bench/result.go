package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result summarises one run of Viewers. Latencies are in milliseconds.
type Result struct {
	URL             string  `json:"url"`
	Mode            string  `json:"mode"`   // classic or ll
	Tracks          int     `json:"tracks"` // media playlists each viewer plays (video + audio at MediaMTX)
	Viewers         int     `json:"viewers"`
	ViewersPlaying  int     `json:"viewers_playing"` // started playback at least once
	DurationSeconds float64 `json:"duration_seconds"`
	RampSeconds     float64 `json:"ramp_seconds"`
	Interrupted     bool    `json:"interrupted,omitempty"` // stopped before -duration (e.g. Ctrl-C)

	Segments     int64   `json:"segments"`
	InitSegments int64   `json:"init_segments"`
	Parts        int64   `json:"parts"` // LL-HLS parts, hinted ones included
	HintedParts  int64   `json:"hinted_parts"`
	Playlists    int64   `json:"playlists"`
	Bytes        int64   `json:"bytes"`
	Gbps         float64 `json:"gbit_per_second"` // response bytes over the whole run, ramp included

	Stalls         int64   `json:"stalls"`
	StalledViewers int     `json:"stalled_viewers"`
	StalledPercent float64 `json:"stalled_percent"` // viewers with at least one stall, in % of all
	StallSeconds   float64 `json:"stall_seconds"`   // summed over viewers
	MissedSegments int64   `json:"missed_segments"`

	ErrorCount int64            `json:"error_count"`
	Errors     map[string]int64 `json:"errors,omitempty"` // by kind: "http 404", "timeout", …

	SegmentMs  Percentiles `json:"segment_ms"`  // request sent → last body byte
	PlaylistMs Percentiles `json:"playlist_ms"` // request sent → last body byte (a blocking reload's hold included)
	PartMs     Percentiles `json:"part_ms"`     // LL parts requested once listed: request sent → last body byte
	HintMs     Percentiles `json:"hint_ms"`     // preload-hint requests, the server's hold included
	StartupMs  Percentiles `json:"startup_ms"`  // viewer start → playback start

	Salon *ProcUsage `json:"salon,omitempty"`
	Tool  ProcUsage  `json:"tool"`
}

// Percentiles of a latency sample, in milliseconds (nearest rank).
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.999999) - 1
		i = max(0, min(i, len(d)-1))
		return ms(d[i])
	}
	return Percentiles{Count: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func summarize(viewers []*viewerStats, elapsed time.Duration) *Result {
	r := &Result{Viewers: len(viewers), DurationSeconds: elapsed.Seconds()}
	var seg, pl, part, hint, startup []time.Duration
	var stall time.Duration
	for _, s := range viewers {
		r.Segments += s.segments
		r.Parts += s.parts
		r.HintedParts += s.hints
		r.InitSegments += s.initSegments
		r.Playlists += s.playlists
		r.Bytes += s.bytes
		r.Stalls += s.stalls
		r.MissedSegments += s.missed
		stall += s.stallTime
		if s.stalls > 0 {
			r.StalledViewers++
		}
		if s.started {
			r.ViewersPlaying++
			startup = append(startup, s.startup)
		}
		for k, n := range s.errors {
			if r.Errors == nil {
				r.Errors = make(map[string]int64)
			}
			r.Errors[k] += n
			r.ErrorCount += n
		}
		seg = append(seg, s.segLatency...)
		pl = append(pl, s.plLatency...)
		part = append(part, s.partLatency...)
		hint = append(hint, s.hintLatency...)
	}
	if len(viewers) > 0 {
		r.StalledPercent = float64(r.StalledViewers) * 100 / float64(len(viewers))
	}
	r.StallSeconds = stall.Seconds()
	if elapsed > 0 {
		r.Gbps = float64(r.Bytes) * 8 / elapsed.Seconds() / 1e9
	}
	r.SegmentMs = percentiles(seg)
	r.PlaylistMs = percentiles(pl)
	r.PartMs = percentiles(part)
	r.HintMs = percentiles(hint)
	r.StartupMs = percentiles(startup)
	return r
}

// Pass reports whether the run met the target: every viewer playing, no stall,
// no error, no missed segment and segment p99 under maxP99.
//
// In LL mode the fetch latency that counts is the parts' (requested once
// listed); held requests wait for the server by design.
func (r *Result) Pass(maxP99 time.Duration) bool {
	p99 := r.SegmentMs.P99
	if r.Mode == ModeLL {
		p99 = r.PartMs.P99
	}
	return r.ViewersPlaying == r.Viewers && r.Stalls == 0 && r.ErrorCount == 0 &&
		r.MissedSegments == 0 && p99 < ms(maxP99)
}

// WriteTable prints the result for a person.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("url", "%s", r.URL)
	row("viewers", "%d (%d playing)", r.Viewers, r.ViewersPlaying)
	interrupted := ""
	if r.Interrupted {
		interrupted = ", interrupted"
	}
	row("duration", "%.1f s (ramp %.1f s%s)", r.DurationSeconds, r.RampSeconds, interrupted)
	row("mode", "%s, %d track(s) per viewer", r.Mode, r.Tracks)
	row("segments", "%d (+%d init), %d playlists", r.Segments, r.InitSegments, r.Playlists)
	if r.Parts > 0 {
		row("parts", "%d (%d from preload hints)", r.Parts, r.HintedParts)
	}
	row("bytes", "%s, %.3f Gbit/s", humanBytes(r.Bytes), r.Gbps)
	row("stalls", "%d in %d viewers (%.1f %%), %.1f s frozen; %d missed", r.Stalls, r.StalledViewers, r.StalledPercent, r.StallSeconds, r.MissedSegments)
	row("segment fetch", "p50 %.1f  p90 %.1f  p99 %.1f  max %.1f ms", r.SegmentMs.P50, r.SegmentMs.P90, r.SegmentMs.P99, r.SegmentMs.Max)
	row("playlist fetch", "p50 %.1f  p99 %.1f ms", r.PlaylistMs.P50, r.PlaylistMs.P99)
	if r.Parts > 0 {
		row("part fetch", "p50 %.1f  p90 %.1f  p99 %.1f  max %.1f ms", r.PartMs.P50, r.PartMs.P90, r.PartMs.P99, r.PartMs.Max)
		row("hint (held)", "p50 %.1f  p90 %.1f  p99 %.1f  max %.1f ms", r.HintMs.P50, r.HintMs.P90, r.HintMs.P99, r.HintMs.Max)
	}
	row("startup", "p50 %.0f  p99 %.0f ms", r.StartupMs.P50, r.StartupMs.P99)
	row("errors", "%d%s", r.ErrorCount, errorList(r.Errors))
	if r.Salon != nil {
		row("salon", "%s", usageText(*r.Salon))
	}
	row("load tool", "%s", usageText(r.Tool))
	return tw.Flush()
}

func usageText(u ProcUsage) string {
	return fmt.Sprintf("%.1f CPU s/min (%.0f%% of a core), RSS %s, peak %s",
		u.CPUSecondsPerMinute, u.CPUSecondsPerMinute/60*100, humanBytes(u.RSSBytes), humanBytes(u.PeakRSSBytes))
}

func errorList(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
