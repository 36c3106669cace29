package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Regular3G is Chromium DevTools' "Regular 3G" network profile: 100 ms
// latency, 750 kbit/s down, 250 kbit/s up (DevTools counts a kbit as 1,024
// bits: 96,000 and 32,000 bytes/s).
var Regular3G = NetworkProfile{Name: "Regular 3G", Latency: 100 * time.Millisecond, Down: 750 * 1024 / 8, Up: 250 * 1024 / 8}

// NetworkProfile is a connection Chromium emulates for every request.
type NetworkProfile struct {
	Name     string
	Latency  time.Duration // from request to response headers, added to each
	Down, Up float64       // bytes per second
}

// PageLoad opens a live page in headless Chromium on an emulated slow
// connection (Network.emulateNetworkConditionsByRule with one global rule,
// the successor of Network.emulateNetworkConditions) with an empty cache,
// Runs times, each in a fresh browser, and measures how much the page
// weighs and how long the viewer waits for the first frame of video.
type PageLoad struct {
	URL      string         // the live page, e.g. http://127.0.0.1:8080/live/main
	Runs     int            // default 3
	Network  NetworkProfile // default Regular3G
	Chromium string         // the browser binary; required
	Timeout  time.Duration  // per run; default 90 s
	Log      *slog.Logger   // progress; default: discard
}

// PageLoadResult is one run.
type PageLoadResult struct {
	Run              int           `json:"run"`
	PageBytes        int64         `json:"page_bytes"`         // document, scripts, styles, images, fonts: the page's weight over the wire
	PageRequests     int           `json:"page_requests"`      // requests for those
	MediaBytes       int64         `json:"media_bytes"`        // playlists and segments (XHR/fetch) fetched by the first frame
	DOMContentLoaded time.Duration `json:"dom_content_loaded"` // from navigation start
	Load             time.Duration `json:"load"`
	FirstFrame       time.Duration `json:"first_frame"` // the first video frame presented (requestVideoFrameCallback)
	ByType           map[string]int64
}

// firstFrameScript runs in the page before its own scripts: it notes when
// the first video frame is presented, whichever <video> it is.
const firstFrameScript = `(() => {
  window.__benchFirstFrame = 0;
  document.addEventListener('loadeddata', (e) => {
    const v = e.target;
    if (!(v instanceof HTMLVideoElement) || window.__benchFirstFrame) return;
    const note = () => { if (!window.__benchFirstFrame) window.__benchFirstFrame = performance.now(); };
    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(note); else v.addEventListener('playing', note, {once: true});
  }, true);
})();`

// Run measures every run and returns the results in order.
func (p *PageLoad) Run(ctx context.Context) ([]PageLoadResult, error) {
	if p.Chromium == "" {
		return nil, errors.New("page-load: no Chromium binary")
	}
	if p.Runs <= 0 {
		p.Runs = 3
	}
	if p.Network.Name == "" {
		p.Network = Regular3G
	}
	if p.Timeout <= 0 {
		p.Timeout = 90 * time.Second
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var out []PageLoadResult
	for i := 1; i <= p.Runs; i++ {
		r, err := p.once(ctx, i)
		if err != nil {
			return out, fmt.Errorf("run %d: %w", i, err)
		}
		log.Info("page-load run", "run", i, "page_bytes", r.PageBytes, "first_frame", r.FirstFrame)
		out = append(out, r)
	}
	return out, nil
}

func (p *PageLoad) once(ctx context.Context, run int) (PageLoadResult, error) {
	res := PageLoadResult{Run: run, ByType: map[string]int64{}}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(p.Chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1366, 768),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	defer cancelAlloc()
	tctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	tctx, cancel := context.WithTimeout(tctx, p.Timeout)
	defer cancel()
	if err := chromedp.Do(tctx); err != nil {
		return res, fmt.Errorf("start chromium: %w", err)
	}

	var mu sync.Mutex
	types := map[network.RequestID]network.ResourceType{}
	bytes := map[string]int64{}
	requests := map[string]int{}
	if err := chromedp.Listen(tctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			types[e.RequestID] = e.Type
		case *network.EventLoadingFinished:
			t := string(types[e.RequestID])
			bytes[t] += int64(e.EncodedDataLength)
			requests[t]++
		}
	}); err != nil {
		return res, err
	}
	if _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); err != nil {
		return res, fmt.Errorf("enable network events: %w", err)
	}
	if _, err := chromedp.Call(tctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		return res, err
	}
	if _, err := chromedp.Call(tctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{
			Latency:            float64(p.Network.Latency.Milliseconds()),
			DownloadThroughput: p.Network.Down,
			UploadThroughput:   p.Network.Up,
			ConnectionType:     network.ConnectionTypeCellular3g,
		}},
	}); err != nil {
		return res, fmt.Errorf("emulate %s: %w", p.Network.Name, err)
	}
	if _, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: firstFrameScript}); err != nil {
		return res, err
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(p.URL)); err != nil {
		return res, fmt.Errorf("open %s: %w", p.URL, err)
	}
	first, err := chromedp.Run(tctx, chromedp.Poll[float64](`window.__benchFirstFrame || null`, chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		return res, fmt.Errorf("no video frame within %s: %w", p.Timeout, err)
	}
	mu.Lock()
	for t, n := range bytes {
		if t == string(network.ResourceTypeXHR) || t == string(network.ResourceTypeFetch) {
			res.MediaBytes += n
		}
	}
	mu.Unlock()
	nav, err := chromedp.Run(tctx, chromedp.Evaluate[[]float64](`(n => [n.domContentLoadedEventEnd, n.loadEventEnd])(performance.getEntriesByType('navigation')[0])`))
	if err != nil {
		return res, err
	}
	// Let late page assets (lazy images, module imports) finish before
	// weighing the page.
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	for t, n := range bytes {
		res.ByType[t] = n
		switch network.ResourceType(t) {
		case network.ResourceTypeDocument, network.ResourceTypeScript, network.ResourceTypeStylesheet,
			network.ResourceTypeImage, network.ResourceTypeFont:
			res.PageBytes += n
			res.PageRequests += requests[t]
		}
	}
	res.FirstFrame = fromMs(first)
	res.DOMContentLoaded = fromMs(nav[0])
	res.Load = fromMs(nav[1])
	return res, nil
}

func fromMs(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// WritePageLoadTable prints the runs and their median.
func WritePageLoadTable(w io.Writer, profile NetworkProfile, rs []PageLoadResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "run\tpage KB\trequests\tmedia KB to 1st frame\tDOMContentLoaded\tload\tfirst frame\t\n")
	row := func(name string, r PageLoadResult) {
		fmt.Fprintf(tw, "%s\t%.1f\t%d\t%.1f\t%.2f s\t%.2f s\t%.2f s\t\n", name, float64(r.PageBytes)/1000, r.PageRequests,
			float64(r.MediaBytes)/1000, r.DOMContentLoaded.Seconds(), r.Load.Seconds(), r.FirstFrame.Seconds())
	}
	for _, r := range rs {
		row(fmt.Sprint(r.Run), r)
	}
	if len(rs) > 1 {
		row("median", medianPageLoad(rs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "(%s: %v latency, %.0f kbit/s down, %.0f kbit/s up; cache off)\n",
		profile.Name, profile.Latency, profile.Down*8/1024, profile.Up*8/1024)
	return err
}

func medianPageLoad(rs []PageLoadResult) PageLoadResult {
	med := func(f func(PageLoadResult) int64) int64 {
		v := make([]int64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return PageLoadResult{
		PageBytes:        med(func(r PageLoadResult) int64 { return r.PageBytes }),
		PageRequests:     int(med(func(r PageLoadResult) int64 { return int64(r.PageRequests) })),
		MediaBytes:       med(func(r PageLoadResult) int64 { return r.MediaBytes }),
		DOMContentLoaded: time.Duration(med(func(r PageLoadResult) int64 { return int64(r.DOMContentLoaded) })),
		Load:             time.Duration(med(func(r PageLoadResult) int64 { return int64(r.Load) })),
		FirstFrame:       time.Duration(med(func(r PageLoadResult) int64 { return int64(r.FirstFrame) })),
	}
}
