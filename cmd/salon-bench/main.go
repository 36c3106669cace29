// Command salon-bench load-tests salon's live HLS: it plays one stage with many
// simulated viewers and reports what they experienced and what the server spent.
//
//	salon-bench viewers -url http://127.0.0.1:8080/live/main/index.m3u8 -n 1500 -pid $(pidof salon)
//	salon-bench ramp -url http://127.0.0.1:8080/live/main/index.m3u8 -steps 250,500,1000,1500,2000
//	salon-bench chat -url http://127.0.0.1:8080 -n 5000 -senders 100 -rate 50 -pid $(pidof salon)
//
// See docs/bench.md for the whole recipe.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/salon/salon/bench"
)

const usage = `usage: salon-bench viewers|ramp|latency|browser-latency|chat|consoles|page-load [flags]

  viewers   run N simulated HLS viewers for a bounded time and print one summary
  ramp      run viewers at increasing N (-steps) and print one row per step
  latency   read salon's /metrics and print ingest-to-playlist latency quantiles
  browser-latency
            play streams in headless Chromium with hls.js and report how far
            behind arrival the screen is (now − playingDate, p50/p95) and stalls
  chat      connect N websocket viewers to one stage's chat, have some post, and
            report connect time, delivery latency, lost messages, server CPU and RSS
  consoles  open N organiser consoles (/admin) in headless Chromium and report
            salon's CPU and RSS while they are open (SALON_ADMIN_TOKEN: the token)
  page-load open a live page in headless Chromium on an emulated Regular 3G
            connection, cache off, and report its weight and the time to the
            first video frame

Run "salon-bench COMMAND -h" for the flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "viewers":
		err = runViewers(ctx, args[1:], stdout, stderr)
	case "ramp":
		err = runRamp(ctx, args[1:], stdout, stderr)
	case "latency":
		err = runLatency(ctx, args[1:], stdout, stderr)
	case "chat":
		err = runChat(ctx, args[1:], stdout, stderr)
	case "consoles":
		err = runConsoles(ctx, args[1:], stdout, stderr)
	case "browser-latency":
		err = runBrowserLatency(ctx, args[1:], stdout, stderr)
	case "page-load":
		err = runPageLoad(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "salon-bench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errTargetMissed):
		fmt.Fprintf(stderr, "salon-bench: %v\n", err)
		return 3
	case err != nil:
		fmt.Fprintf(stderr, "salon-bench: %v\n", err)
		return 1
	}
	return 0
}

// errUsage marks a flag error the flag package has already printed;
// errTargetMissed a run that worked but missed the target (exit status 3).
var (
	errUsage        = errors.New("bad flags")
	errTargetMissed = errors.New("target missed")
)

// viewerFlags registers the flags shared by both commands on fs.
func viewerFlags(fs *flag.FlagSet, v *bench.Viewers, defDuration, defRamp time.Duration) (jsonOut, verbose *bool) {
	fs.StringVar(&v.URL, "url", "", "playlist URL, e.g. http://127.0.0.1:8080/live/main/index.m3u8 (a multivariant one plays its first variant, and its audio rendition when separate)")
	fs.DurationVar(&v.Ramp, "ramp", defRamp, "spread the viewer starts over this time (must be < -duration)")
	fs.DurationVar(&v.Duration, "duration", defDuration, "run time, ramp included; the run stops by itself")
	fs.DurationVar(&v.Timeout, "timeout", 10*time.Second, "timeout of one request, body included")
	fs.IntVar(&v.MaxConnsPerHost, "conns", 0, "limit of connections to the server (0: none; each viewer keeps about one alive)")
	fs.IntVar(&v.MaxIdleConnsPerHost, "idle-conns", 0, "keep-alive pool size (0: viewers + 16; 4 × viewers + 16 in ll mode)")
	fs.IntVar(&v.PID, "pid", 0, "salon process id: report its CPU and memory (from /proc)")
	fs.BoolVar(&v.AllowRemote, "allow-remote", false, "allow a URL outside loopback (only load servers that are yours)")
	fs.StringVar(&v.ViewerIDPrefix, "id-prefix", "", "prefix of the X-Salon-Viewer header values (default: bench-RANDOM)")
	fs.StringVar(&v.Mode, "mode", bench.ModeClassic, "player: classic (segments) or ll (LL-HLS: blocking reloads, parts, preload hints)")
	fs.BoolVar(&v.Hints, "hints", true, "ll: request EXT-X-PRELOAD-HINT parts ahead (held by the server), as Apple's players do; false: request each part once listed, as hls.js does")
	fs.BoolVar(&v.NetHTTP, "nethttp", false, "ll: use Go's net/http client instead of the tool's two lean HTTP/1.1 keep-alive connections per viewer (costs the tool about twice the CPU)")
	fs.BoolVar(&v.Skip, "skip", true, "ll: ask for delta playlists (_HLS_skip=YES) when the server offers them")
	jsonOut = fs.Bool("json", false, "print the result as JSON")
	verbose = fs.Bool("v", false, "log progress to stderr")
	return jsonOut, verbose
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return errUsage
	}
	return nil
}

func logger(verbose bool, stderr io.Writer) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(stderr, nil))
}

func runViewers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("salon-bench viewers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var v bench.Viewers
	jsonOut, verbose := viewerFlags(fs, &v, 60*time.Second, 10*time.Second)
	fs.IntVar(&v.N, "n", 100, "number of viewers")
	maxP99 := fs.Duration("max-p99", 200*time.Millisecond, "segment fetch p99 target; the exit status is 3 when the run misses it or anything stalled or failed")
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
	v.Log = logger(*verbose, stderr)
	if err := v.Initialize(); err != nil {
		return err
	}
	defer v.Close()
	res, err := v.Run(ctx)
	if err != nil {
		return err
	}
	if err := writeResult(stdout, res, *jsonOut); err != nil {
		return err
	}
	if !res.Pass(*maxP99) {
		return fmt.Errorf("%w: want no stall, no error, no missed segment, every viewer playing and segment p99 < %s", errTargetMissed, *maxP99)
	}
	return nil
}

func runRamp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("salon-bench ramp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var r bench.Ramp
	jsonOut, verbose := viewerFlags(fs, &r.Base, 30*time.Second, 5*time.Second)
	steps := fs.String("steps", "250,500,1000,1500,2000", "viewer counts, comma-separated, run in order")
	fs.DurationVar(&r.Pause, "pause", 5*time.Second, "pause between steps")
	fs.DurationVar(&r.MaxP99, "max-p99", 200*time.Millisecond, "segment fetch p99 a step must stay under to pass")
	fs.BoolVar(&r.StopOnFail, "stop-on-fail", false, "stop after the first step that fails")
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-steps %q: %q is not a number", *steps, s)
		}
		r.Steps = append(r.Steps, n)
	}
	r.Base.Log = logger(*verbose, stderr)
	if err := r.Initialize(); err != nil {
		return err
	}
	var writeErr error
	onStep := func(res *bench.Result) {
		if *jsonOut {
			writeErr = errors.Join(writeErr, json.NewEncoder(stdout).Encode(res)) // one JSON object per line
		} else {
			writeErr = errors.Join(writeErr, bench.WriteRampRow(stdout, res, r.MaxP99))
		}
	}
	if !*jsonOut {
		if err := bench.WriteRampHeader(stdout); err != nil {
			return err
		}
	}
	_, err := r.Run(ctx, onStep)
	return errors.Join(err, writeErr)
}

// writeResult writes a run's result as indented JSON, or as the table people read.
func writeResult(w io.Writer, res interface{ WriteTable(io.Writer) error }, asJSON bool) error {
	if !asJSON {
		return res.WriteTable(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
