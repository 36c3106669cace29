package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/salon/salon/bench"
)

func runChat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("salon-bench chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.Chat
	fs.StringVar(&c.URL, "url", "", "salon's base URL (http://127.0.0.1:8080) or the chat's ws:// URL; loopback only; several nodes of one deployment comma-separated")
	fs.StringVar(&c.Stage, "stage", "main", "stage whose chat to load (with an http:// -url)")
	fs.IntVar(&c.N, "n", 1000, "number of viewers")
	fs.IntVar(&c.Senders, "senders", 100, "viewers that post (one per source address)")
	fs.Float64Var(&c.Rate, "rate", 50, "messages per second in total, spread over the senders")
	fs.Float64Var(&c.Stalled, "stalled", 0, "fraction of the other viewers that stop reading after the welcome (e.g. 0.05)")
	fs.DurationVar(&c.Duration, "duration", 60*time.Second, "how long the senders post")
	fs.DurationVar(&c.Grace, "grace", 5*time.Second, "wait for deliveries after the last message")
	fs.DurationVar(&c.Settle, "settle", 5*time.Second, "idle time between connecting and sending (the idle RSS is read at its end)")
	fs.IntVar(&c.Concurrency, "concurrency", 100, "connection attempts in flight")
	fs.IntVar(&c.PerIP, "per-ip", 8, "viewers per loopback source address (salon allows 20 connections per address)")
	fs.StringVar(&c.Source, "source", "127.1.0.1", "first loopback source address; the following ones are used in order")
	fs.IntVar(&c.PID, "pid", 0, "salon process id: report its CPU and memory (from /proc)")
	pids := fs.String("pids", "", "with several -url nodes: their process ids, comma-separated in the same order, to report each one's CPU and memory")
	fs.BoolVar(&c.Reconnect, "reconnect", false, "a viewer whose connection ends while sending dials the next -url node (kill a node during the run to measure how soon its viewers are back)")
	maxP99 := fs.Duration("max-p99", 0, "delivery p99 target; when set, the exit status is 3 if the run misses it, loses a message or drops a reading viewer")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	verbose := fs.Bool("v", false, "log progress to stderr")
	cpuProfile := fs.String("cpuprofile", "", "write the load tool's own CPU profile to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *pids != "" {
		for _, f := range strings.Split(*pids, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("-pids %q: process ids, comma-separated", *pids)
			}
			c.PIDs = append(c.PIDs, n)
		}
	}
	c.Log = logger(*verbose, stderr)
	if err := c.Initialize(); err != nil {
		return err
	}
	res, err := c.Run(ctx)
	if err != nil {
		return err
	}
	if err := writeResult(stdout, res, *jsonOut); err != nil {
		return err
	}
	if *maxP99 > 0 && !res.Pass(*maxP99) {
		return fmt.Errorf("%w: want every viewer connected, nothing lost or refused, no reading viewer dropped and delivery p99 < %s", errTargetMissed, *maxP99)
	}
	return nil
}
