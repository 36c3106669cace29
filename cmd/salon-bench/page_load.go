package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"

	"github.com/salon/salon/bench"
	"github.com/salon/salon/web/webtest"
)

// runPageLoad opens a live page on an emulated Regular 3G connection and
// prints its weight and the time to the first video frame.
func runPageLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("salon-bench page-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p bench.PageLoad
	fs.StringVar(&p.URL, "url", "", "the live page, e.g. http://127.0.0.1:8080/live/main")
	fs.IntVar(&p.Runs, "runs", 3, "fresh browsers, one after the other")
	fs.DurationVar(&p.Timeout, "timeout", 0, "per run (default 90s)")
	fs.StringVar(&p.Chromium, "chromium", webtest.Chromium(), "Chromium binary")
	jsonOut := fs.Bool("json", false, "print one JSON object per run")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if p.URL == "" {
		fs.Usage()
		return errUsage
	}
	p.Network = bench.Regular3G
	p.Log = logger(*verbose, stderr)
	results, err := p.Run(ctx)
	var writeErr error
	if *jsonOut {
		for _, r := range results {
			writeErr = errors.Join(writeErr, json.NewEncoder(stdout).Encode(r))
		}
	} else if len(results) > 0 {
		writeErr = bench.WritePageLoadTable(stdout, p.Network, results)
	}
	return errors.Join(err, writeErr)
}
