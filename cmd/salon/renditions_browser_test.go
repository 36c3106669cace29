package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/salon/salon/web/webtest"
)

// TestRenditions_BrowserSwitches plays the live page of a stage with a
// source and an aligned rendition in Chromium (hls.js), then caps the
// browser's bandwidth between the two variants' BANDWIDTH: hls.js moves to
// the rendition's segments, and playback goes on across the switch.
func TestRenditions_BrowserSwitches(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := webtest.Browser(t)
	a := testApp(t, twoSecondSegments)
	pub := renditionPublisher(t, a, "50", "50")
	mv := waitMultivariant(t, a.httpURL("/live/main/index.m3u8"), 2, pub)
	bws := regexp.MustCompile(`STREAM-INF:BANDWIDTH=(\d+)`).FindAllStringSubmatch(mv, -1)
	src, _ := strconv.ParseFloat(bws[0][1], 64)
	low, _ := strconv.ParseFloat(bws[1][1], 64)
	t.Logf("BANDWIDTH: source %.0f, rendition %.0f bit/s", src, low)

	// Segment requests per variant, as the browser sends them.
	var mu sync.Mutex
	fetched := map[string]int{}
	var last string     // the variant of the newest segment request
	var failed []string // responses of 400 and above
	go func() {
		for ev, err := range chromedp.Events(ctx, network.ResponseReceived) {
			if err != nil {
				return
			}
			if ev.Response.Status >= 400 {
				mu.Lock()
				failed = append(failed, strconv.Itoa(int(ev.Response.Status))+" "+ev.Response.URL)
				mu.Unlock()
			}
		}
	}()
	// Whole segments, or parts of them (Low-Latency HLS is the default).
	segRE := regexp.MustCompile(`/live/main/(source|180p)/\d+(\.\d+)?\.m4s`)
	go func() {
		for ev, err := range chromedp.Events(ctx, network.RequestWillBeSent) {
			if err != nil {
				return
			}
			if m := segRE.FindStringSubmatch(ev.Request.URL); m != nil {
				mu.Lock()
				fetched[m[1]]++
				last = m[1]
				mu.Unlock()
			}
		}
	}()
	count := func(r string) int { mu.Lock(); defer mu.Unlock(); return fetched[r] }
	newest := func() string { mu.Lock(); defer mu.Unlock(); return last }

	// A new variable: the event goroutines above read ctx.
	tctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(a.httpURL("/live/main"))); err != nil {
		t.Fatalf("open the live page: %v", err)
	}
	currentTime := func() float64 {
		v, err := chromedp.Run(tctx, chromedp.Evaluate[float64](`document.getElementById('video').currentTime`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				got := fmt.Sprint(fetched)
				mu.Unlock()
				t.Fatalf("waiting for %s: segments fetched %s, currentTime %.2f", what, got, currentTime())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("playback", 60*time.Second, func() bool { return currentTime() > 0 })
	waitFor("source segments", 60*time.Second, func() bool { return count("source") >= 3 })
	if newest() != "source" {
		t.Fatalf("hls.js left the source before the network was capped: %v", fetched)
	}

	// Cap the download between the two variants.
	capBits := min(src*0.6, low*3)
	if _, err := chromedp.Call(tctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{DownloadThroughput: capBits / 8, UploadThroughput: -1, Latency: 20}},
	}); err != nil {
		t.Fatalf("throttle the network: %v", err)
	}
	before := count("180p")
	waitFor("hls.js to switch to the rendition", 90*time.Second, func() bool { return count("180p") >= before+3 && newest() == "180p" })
	at := currentTime()
	waitFor("playback after the switch", 60*time.Second, func() bool { return currentTime() > at+4 })
	mu.Lock()
	defer mu.Unlock()
	t.Logf("segments fetched: %v (180p before the cap: %d); capped at %.0f bit/s", fetched, before, capBits)
	for _, f := range failed {
		if segRE.MatchString(f) || regexp.MustCompile(`\.m3u8`).MatchString(f) {
			t.Errorf("hls.js got %s", f)
		} else {
			t.Logf("not found: %s", f)
		}
	}
}
