package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// Consoles opens N organiser consoles (salon's /admin) in one headless
// Chromium, logged in with the admin token the way a volunteer logs in, and
// measures salon's CPU and memory while they stay open: what the console's
// event feed costs during a live stage, whole process, not per snapshot.
//
// With N = 0 it opens no browser and only measures: the baseline of the same
// salon in the same run.
type Consoles struct {
	// URL is salon's base URL, e.g. "http://127.0.0.1:8080" (loopback only).
	URL string
	// Token is the admin token the consoles log in with.
	Token string
	// N is how many consoles are open during the measurement.
	N int
	// Settle is how long the consoles stay open before the measurement
	// starts (page loads, first snapshots). Default 10 s.
	Settle time.Duration
	// Duration is how long salon is measured. Required.
	Duration time.Duration
	// PID is salon's process id. Required.
	PID int
	// Chromium is the browser binary. Required when N > 0.
	Chromium string
	// Log receives progress. Default: discard.
	Log *slog.Logger
}

// ConsolesResult is one measurement.
type ConsolesResult struct {
	Consoles int `json:"consoles"`
	// Live is how many consoles said "Live updates" (their event feed open)
	// at the end of the measurement.
	Live  int       `json:"live"`
	Salon ProcUsage `json:"salon"`
}

// consoleLive is true in a console whose event feed is open.
const consoleLive = `document.getElementById('feed-status')?.textContent === 'Live updates'`

// Run opens the consoles, waits Settle, measures salon for Duration and
// closes the browser.
func (c *Consoles) Run(ctx context.Context) (*ConsolesResult, error) {
	if err := CheckLoopbackURL(c.URL); err != nil {
		return nil, err
	}
	if c.PID == 0 || c.Duration <= 0 {
		return nil, errors.New("consoles: PID and Duration are required")
	}
	if c.N > 0 && (c.Chromium == "" || c.Token == "") {
		return nil, errors.New("consoles: Chromium and Token are required to open consoles")
	}
	if c.Settle <= 0 {
		c.Settle = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimRight(c.URL, "/")
	var tabs []context.Context
	if c.N > 0 {
		actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
			chromedp.ExecPath(c.Chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.WindowSize(1366, 768))
		defer cancelAlloc()
		browser, cancel := chromedp.NewContext(actx)
		defer cancel()
		if err := chromedp.Do(browser); err != nil {
			return nil, fmt.Errorf("start chromium %s: %w", c.Chromium, err)
		}
		// Each console is its own browser context, as each volunteer's
		// device is: its own cookie jar and its own connections (one
		// browser caps HTTP/1.1 at six connections per host, and every
		// console holds one for its event feed).
		for len(tabs) < c.N {
			tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			defer cancel()
			if err := chromedp.Do(tab,
				chromedp.Navigate(base+"/admin/login"),
				chromedp.SendKeys("#token", c.Token),
				chromedp.Click("form.login-form button[type=submit]"),
				chromedp.WaitVisible("#feed-status"),
			); err != nil {
				return nil, fmt.Errorf("open console %d: %w (is the admin token right?)", len(tabs)+1, err)
			}
			tabs = append(tabs, tab)
		}
		c.Log.Info("consoles open", "n", len(tabs))
	}
	select {
	case <-time.After(c.Settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	pid := strconv.Itoa(c.PID)
	start, err := sampleProc(pid)
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(c.Duration):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	end, err := sampleProc(pid)
	if err != nil {
		return nil, err
	}
	res := &ConsolesResult{Consoles: len(tabs), Salon: usageBetween(c.PID, start, end)}
	for i, tab := range tabs {
		live, err := chromedp.Run(tab, chromedp.Evaluate[bool](consoleLive))
		if err != nil {
			return nil, fmt.Errorf("read console %d: %w", i+1, err)
		}
		if live {
			res.Live++
		}
	}
	return res, nil
}
