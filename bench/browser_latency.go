package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chromedp/chromedp"
)

//go:embed page/latency.html
var latencyPage []byte

// BrowserLatency measures how far behind the server's arrival of the media a
// viewer's screen is: headless Chromium plays each target with hls.js (the
// copy salon vendors) and samples now − hls.playingDate every 200 ms, where
// playingDate is the EXT-X-PROGRAM-DATE-TIME of the frame on screen, which
// salon and MediaMTX both stamp with the time the frame arrived. Clocks agree
// because everything runs on one machine. It also counts stalls (the video
// element waiting after playback started) and the parts hls.js loaded.
//
// The page is served by the harness itself on 127.0.0.1 and the browser runs
// with web security off, so it plays any server's playlist without CORS
// headers. The targets run one after the other, Rounds times, in the order
// given: never at once, so they do not share the CPU with each other.
type BrowserLatency struct {
	// Targets are the streams to measure.
	Targets []LatencyTarget
	// Warmup is how long a target plays before sampling starts (join,
	// first catch-up). Default 10 s.
	Warmup time.Duration
	// Duration is how long each target is sampled. Default 60 s.
	Duration time.Duration
	// Rounds repeats the targets in order (default 1).
	Rounds int
	// Chromium is the browser binary. Required.
	Chromium string
	// HLSJS is the path of hls.min.js. Required.
	HLSJS string
	// Log receives progress. Default: discard.
	Log *slog.Logger
}

// LatencyTarget is one stream to play.
type LatencyTarget struct {
	Name string // e.g. "salon-ll"
	URL  string // playlist URL (loopback)
	LL   bool   // hls.js lowLatencyMode
}

// LatencyResult is one target's measurement in one round; times in ms.
type LatencyResult struct {
	Name        string   `json:"name"`
	Round       int      `json:"round"`
	URL         string   `json:"url"`
	LL          bool     `json:"ll"`
	Samples     int      `json:"samples"`
	P50         float64  `json:"p50_ms"`
	P95         float64  `json:"p95_ms"`
	Min         float64  `json:"min_ms"`
	Max         float64  `json:"max_ms"`
	Stalls      int      `json:"stalls"`
	StallMs     float64  `json:"stall_ms"`
	PartsLoaded int      `json:"parts_loaded"`
	FragsLoaded int      `json:"fragments_loaded"`
	Errors      []string `json:"errors,omitempty"`
	// HLSLatency and HLSTarget are hls.js's own estimate of the distance to
	// the live edge and its target, in seconds, at the end.
	HLSLatency float64 `json:"hlsjs_latency_s"`
	HLSTarget  float64 `json:"hlsjs_target_s"`
	// Start is how playback began (first playlists and loads, first play),
	// from hls.js's events: what to read when a latency looks wrong.
	Start []string `json:"start,omitempty"`
	// StallLog says where each stall began, what was buffered then and when
	// playback resumed.
	StallLog []string `json:"stall_log,omitempty"`
}

// pageState is what the page keeps in window.bench.
type pageState struct {
	Samples     []float64 `json:"samples"`
	Stalls      int       `json:"stalls"`
	StallMs     float64   `json:"stallMs"`
	StallNow    float64   `json:"stallNow"`
	PartsLoaded int       `json:"partsLoaded"`
	FragsLoaded int       `json:"fragsLoaded"`
	Errors      []string  `json:"errors"`
	Playing     bool      `json:"playing"`
	StallLog    []string  `json:"stallLog"`
	Edge        struct {
		Latency float64 `json:"latency"`
		Target  float64 `json:"target"`
	} `json:"edgeNow"`
}

// ParseLatencyTarget reads NAME=URL or NAME=URL,ll.
func ParseLatencyTarget(s string) (LatencyTarget, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return LatencyTarget{}, fmt.Errorf("target %q: want NAME=URL or NAME=URL,ll", s)
	}
	t := LatencyTarget{Name: name, URL: rest}
	if u, found := strings.CutSuffix(rest, ",ll"); found {
		t.URL, t.LL = u, true
	}
	if err := CheckLoopbackURL(t.URL); err != nil {
		return LatencyTarget{}, fmt.Errorf("target %s: %w", name, err)
	}
	return t, nil
}

// Run measures every target, Rounds times; onResult gets each result as
// soon as it is measured.
func (b *BrowserLatency) Run(ctx context.Context, onResult func(*LatencyResult)) ([]*LatencyResult, error) {
	if len(b.Targets) == 0 || b.Chromium == "" || b.HLSJS == "" {
		return nil, errors.New("browser-latency: targets, Chromium and hls.js are required")
	}
	if b.Warmup <= 0 {
		b.Warmup = 10 * time.Second
	}
	if b.Duration <= 0 {
		b.Duration = 60 * time.Second
	}
	if b.Rounds <= 0 {
		b.Rounds = 1
	}
	if b.Log == nil {
		b.Log = slog.New(slog.DiscardHandler)
	}
	hlsjs, err := os.ReadFile(b.HLSJS)
	if err != nil {
		return nil, fmt.Errorf("hls.js: %w (run go generate ./web to vendor it)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(latencyPage)
	})
	mux.HandleFunc("GET /hls.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(hlsjs)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	page := "http://" + ln.Addr().String() + "/"

	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(b.Chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-web-security", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.WindowSize(1280, 720))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		return nil, fmt.Errorf("start Chromium %s: %w", b.Chromium, err)
	}

	var results []*LatencyResult
	for round := 1; round <= b.Rounds; round++ {
		for _, t := range b.Targets {
			r, err := b.measure(browser, page, t)
			if err != nil {
				return results, fmt.Errorf("%s (round %d): %w", t.Name, round, err)
			}
			r.Round = round
			results = append(results, r)
			if onResult != nil {
				onResult(r)
			}
		}
	}
	return results, nil
}

// measure plays one target in a fresh tab.
func (b *BrowserLatency) measure(browser context.Context, page string, t LatencyTarget) (*LatencyResult, error) {
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	q := url.Values{"src": {t.URL}}
	if t.LL {
		q.Set("ll", "1")
	}
	b.Log.Info("playing", "target", t.Name, "url", t.URL, "ll", t.LL)
	if err := chromedp.Do(tab, chromedp.Navigate(page+"?"+q.Encode())); err != nil {
		return nil, err
	}
	if !sleepUntil(tab, time.Now().Add(b.Warmup)) {
		return nil, tab.Err()
	}
	playing, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.bench.playing`))
	if err != nil {
		return nil, err
	}
	if !playing {
		errs, _ := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.bench.errors`))
		return nil, fmt.Errorf("not playing after %s (hls.js errors: %v)", b.Warmup, errs)
	}
	start, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.bench.log`))
	if err != nil {
		return nil, err
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.bench.reset(), true`)); err != nil {
		return nil, err
	}
	if !sleepUntil(tab, time.Now().Add(b.Duration)) {
		return nil, tab.Err()
	}
	st, err := chromedp.Run(tab, chromedp.Evaluate[pageState](`({...window.bench, stallNow: window.bench.stallNow(), edgeNow: window.bench.edge()})`))
	if err != nil {
		return nil, err
	}
	r := &LatencyResult{Name: t.Name, URL: t.URL, LL: t.LL, Samples: len(st.Samples),
		Stalls: st.Stalls, StallMs: st.StallMs + st.StallNow,
		PartsLoaded: st.PartsLoaded, FragsLoaded: st.FragsLoaded, Errors: compactErrors(st.Errors),
		HLSLatency: st.Edge.Latency, HLSTarget: st.Edge.Target, Start: start, StallLog: st.StallLog}
	if len(st.Samples) > 0 {
		s := slices.Clone(st.Samples)
		slices.Sort(s)
		at := func(q float64) float64 {
			i := int(q*float64(len(s))+0.999999) - 1
			return s[max(0, min(i, len(s)-1))]
		}
		r.P50, r.P95, r.Min, r.Max = at(0.50), at(0.95), s[0], s[len(s)-1]
	}
	return r, nil
}

// compactErrors turns the page's error list into "name ×count".
func compactErrors(errs []string) []string {
	counts := map[string]int{}
	var order []string
	for _, e := range errs {
		if counts[e] == 0 {
			order = append(order, e)
		}
		counts[e]++
	}
	var out []string
	for _, e := range order {
		out = append(out, fmt.Sprintf("%s ×%d", e, counts[e]))
	}
	return out
}

// WriteLatencyTable prints results for a person.
func WriteLatencyTable(w io.Writer, results []*LatencyResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tround\tll\tsamples\tp50 ms\tp95 ms\tmin ms\tmax ms\tstalls\tstalled ms\tparts\tfragments\thls.js latency/target s\terrors\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%v\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%.0f\t%d\t%d\t%.2f/%.2f\t%s\t\n",
			r.Name, r.Round, r.LL, r.Samples, r.P50, r.P95, r.Min, r.Max, r.Stalls, r.StallMs,
			r.PartsLoaded, r.FragsLoaded, r.HLSLatency, r.HLSTarget, strings.Join(r.Errors, ", "))
	}
	return tw.Flush()
}
