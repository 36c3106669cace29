package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Ramp runs Viewers at increasing viewer counts, one bounded run per step, to
// find where the server stops keeping up.
type Ramp struct {
	// parameters

	// Base is the template of every step; its N is replaced by each step.
	Base Viewers
	// Steps are the viewer counts, run in this order.
	Steps []int
	// Pause between steps lets the server drop the previous step's
	// connections (default 5 s; negative: none).
	Pause time.Duration
	// MaxP99 is the segment fetch p99 a step must stay under to pass
	// (default 200 ms).
	MaxP99 time.Duration
	// StopOnFail ends the ramp after the first step that fails.
	StopOnFail bool
}

// Initialize validates the steps and the base configuration.
func (r *Ramp) Initialize() error {
	if len(r.Steps) == 0 {
		return errors.New("-steps is empty: give viewer counts, e.g. 250,500,1000,1500,2000")
	}
	for _, n := range r.Steps {
		if n <= 0 {
			return fmt.Errorf("-steps: %d is not a viewer count", n)
		}
	}
	if r.Pause == 0 {
		r.Pause = 5 * time.Second
	}
	if r.MaxP99 == 0 {
		r.MaxP99 = 200 * time.Millisecond
	}
	probe := r.Base
	probe.N = slices.Max(r.Steps)
	if err := probe.Initialize(); err != nil {
		return err
	}
	probe.Close()
	return nil
}

// Run runs the steps; onStep, when set, gets each result as soon as its step
// ends. It returns the results of the steps that ran.
func (r *Ramp) Run(ctx context.Context, onStep func(*Result)) ([]*Result, error) {
	var results []*Result
	for i, n := range r.Steps {
		if i > 0 && r.Pause > 0 && !sleepUntil(ctx, time.Now().Add(r.Pause)) {
			return results, ctx.Err()
		}
		v := r.Base
		v.N = n
		if err := v.Initialize(); err != nil {
			return results, fmt.Errorf("step %d viewers: %w", n, err)
		}
		res, err := v.Run(ctx)
		v.Close()
		if err != nil {
			return results, fmt.Errorf("step %d viewers: %w", n, err)
		}
		results = append(results, res)
		if onStep != nil {
			onStep(res)
		}
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		if r.StopOnFail && !res.Pass(r.MaxP99) {
			break
		}
	}
	return results, nil
}

// WriteRampHeader and WriteRampRow print the ramp table one row at a time, so
// a person watching sees each step when it ends.
func WriteRampHeader(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%7s %7s %7s %7s %6s %6s %6s %8s %8s %8s %8s %8s %8s %7s %9s %9s %9s %9s %4s\n",
		"viewers", "playing", "stalls", "stalled", "stall%", "missed", "errors",
		"seg_p50", "seg_p99", "seg_max", "pl_p99", "part_p99", "hint_p99", "Gbit/s",
		"salon_cpu", "salon_rss", "tool_cpu", "tool_rss", "pass")
	// The error kinds, when any, follow the last column.
	return err
}

// WriteRampRow prints one step; CPU is in CPU seconds per minute, RSS in MiB,
// latency in ms.
func WriteRampRow(w io.Writer, res *Result, maxP99 time.Duration) error {
	salonCPU, salonRSS := "-", "-"
	if res.Salon != nil {
		salonCPU = fmt.Sprintf("%.1f", res.Salon.CPUSecondsPerMinute)
		salonRSS = fmt.Sprintf("%.0f", float64(res.Salon.RSSBytes)/(1<<20))
	}
	pass := "no"
	if res.Pass(maxP99) {
		pass = "yes"
	}
	_, err := fmt.Fprintf(w, "%7d %7d %7d %7d %6.1f %6d %6d %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %7.3f %9s %9s %9.1f %9.0f %4s%s\n",
		res.Viewers, res.ViewersPlaying, res.Stalls, res.StalledViewers, res.StalledPercent, res.MissedSegments, res.ErrorCount,
		res.SegmentMs.P50, res.SegmentMs.P99, res.SegmentMs.Max, res.PlaylistMs.P99, res.PartMs.P99, res.HintMs.P99, res.Gbps,
		salonCPU, salonRSS, res.Tool.CPUSecondsPerMinute, float64(res.Tool.RSSBytes)/(1<<20), pass, errorList(res.Errors))
	return err
}
