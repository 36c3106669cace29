// Package webtest starts a headless Chromium for tests of salon's pages.
//
//	ctx := webtest.Browser(t)
//	err := chromedp.Do(ctx, chromedp.Navigate(url), …)
//
// The browser runs with a temporary profile and is closed when the test ends.
// Tests skip when Chromium is not installed.
package webtest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are tried in order on PATH, after /usr/bin/chromium.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium finds a Chromium binary, or returns "" when none is installed.
func Chromium() string {
	for _, name := range append([]string{"/usr/bin/chromium"}, chromiumNames...) {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser starts a headless Chromium and returns a context for
// chromedp.Run on one tab. Console messages and uncaught exceptions from the
// page are logged with t.Log. The browser stops when the test ends. extra
// options are added to the defaults (TrustSPKI, say).
func Browser(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := Chromium()
	if path == "" {
		t.Skip("chromium not installed (apt-get install chromium): skipping the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("metrics-recording-only", true),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)

	// Start the browser now so that a broken install fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", path, err)
	}
	// Page console messages and uncaught exceptions go to the test log; the
	// loop ends when the tab's context is cancelled.
	messages := chromedp.Console(ctx)
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		for m, err := range messages {
			if err != nil {
				return
			}
			t.Logf("browser %s", m.String())
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		<-logged
		cancelAlloc()
	})
	return ctx
}
