package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/salon/salon/bench"
	"github.com/salon/salon/web/webtest"
)

// runConsoles opens N organiser consoles in headless Chromium and reports
// salon's CPU and memory while they are open.
func runConsoles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("salon-bench consoles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.Consoles
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "salon's base URL; loopback only")
	fs.IntVar(&c.N, "n", 20, "consoles to open (0: measure salon without any)")
	fs.DurationVar(&c.Settle, "settle", 0, "time the consoles are open before the measurement (default 10s)")
	fs.DurationVar(&c.Duration, "duration", 0, "measurement time (required)")
	fs.IntVar(&c.PID, "pid", 0, "salon process id (required)")
	fs.StringVar(&c.Chromium, "chromium", webtest.Chromium(), "Chromium binary")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	// The token comes from the environment, not the command line, which
	// other users of the machine can read in ps.
	c.Token = os.Getenv("SALON_ADMIN_TOKEN")
	c.Log = logger(*verbose, stderr)
	res, err := c.Run(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	_, err = fmt.Fprintf(stdout, "%d consoles (%d live): salon %.2f CPU-s/min, RSS %.0f MiB\n",
		res.Consoles, res.Live, res.Salon.CPUSecondsPerMinute, float64(res.Salon.RSSBytes)/(1<<20))
	return err
}
