package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/salon/salon/bench"
)

// runLatency prints the quantiles of salon's segment publish latency: from the
// arrival of the unit that completes a segment to the playlist listing it.
func runLatency(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080/metrics", "salon's /metrics URL")
	name := fs.String("metric", "salon_segment_publish_latency_seconds", "histogram to read")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if err := bench.CheckLoopbackURL(*url); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch metrics: %w (is salon running?)", err)
	}
	defer resp.Body.Close()
	qs, n, err := bench.HistogramQuantiles(resp.Body, *name, 0.5, 0.95, 0.99)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s over %d segments: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
		*name, n, qs[0]*1000, qs[1]*1000, qs[2]*1000)
	return nil
}
