package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"path/filepath"

	"github.com/salon/salon/bench"
	"github.com/salon/salon/web/webtest"
)

// targetList is a repeatable -target flag.
type targetList []bench.LatencyTarget

func (l *targetList) String() string { return "" }
func (l *targetList) Set(s string) error {
	t, err := bench.ParseLatencyTarget(s)
	if err != nil {
		return err
	}
	*l = append(*l, t)
	return nil
}

// runBrowserLatency plays each -target in headless Chromium with hls.js and
// prints arrival-to-display latency and stalls.
func runBrowserLatency(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("salon-bench browser-latency", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b bench.BrowserLatency
	var targets targetList
	fs.Var(&targets, "target", "NAME=URL (classic) or NAME=URL,ll (hls.js lowLatencyMode); repeat, run in order")
	fs.DurationVar(&b.Warmup, "warmup", 0, "play time before sampling (default 10s)")
	fs.DurationVar(&b.Duration, "duration", 0, "sampling time per target (default 60s)")
	fs.IntVar(&b.Rounds, "rounds", 1, "repeat all targets, in order, this many times")
	fs.StringVar(&b.Chromium, "chromium", webtest.Chromium(), "Chromium binary")
	hlsjs := fs.String("hlsjs", "", "hls.min.js (default: web/static/vendor/hls.js-*/hls.min.js under the current directory)")
	jsonOut := fs.Bool("json", false, "print one JSON object per result")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(targets) == 0 {
		fs.Usage()
		return errUsage
	}
	b.Targets = targets
	b.HLSJS = *hlsjs
	if b.HLSJS == "" {
		m, _ := filepath.Glob("web/static/vendor/hls.js-*/hls.min.js")
		if len(m) == 0 {
			return errors.New("no -hlsjs and no web/static/vendor/hls.js-*/hls.min.js here: run from the repository after go generate ./web")
		}
		b.HLSJS = m[len(m)-1]
	}
	b.Log = logger(*verbose, stderr)
	var writeErr error
	results, err := b.Run(ctx, func(r *bench.LatencyResult) {
		if *jsonOut {
			writeErr = errors.Join(writeErr, json.NewEncoder(stdout).Encode(r))
		}
	})
	if !*jsonOut && len(results) > 0 {
		writeErr = errors.Join(writeErr, bench.WriteLatencyTable(stdout, results))
	}
	return errors.Join(err, writeErr)
}
