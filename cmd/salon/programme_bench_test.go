package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestProgramme_NextLatency measures the time from pressing Next talk (the
// POST leaving the client) to the talk frame reaching each of N connected
// chat viewers, over several presses. It runs only when
// SALON_BENCH_NEXT_VIEWERS is set (e.g. 5000); the numbers go to the log and
// docs/benchmarks.md, never into assertions: it checks only that every
// viewer got every frame. Viewers and salon share the machine, so the
// latency includes the viewers' own scheduling.
func TestProgramme_NextLatency(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SALON_BENCH_NEXT_VIEWERS"))
	if n <= 0 {
		t.Skip("set SALON_BENCH_NEXT_VIEWERS=5000 to measure Next → talk frame")
	}
	const presses = 10
	a := testApp(t, func(c *Config) {
		// Every viewer comes from 127.0.0.1: limit them per connection only.
		c.ChatSharedNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	start := time.Now().Add(time.Hour).UTC()
	for i := range presses + 1 {
		at := start.Add(time.Duration(i) * 30 * time.Minute)
		body := fmt.Sprintf(`{"id":"t%02d","title":"第%d场","stage":"main","starts_at":%q,"ends_at":%q}`,
			i, i, at.Format(time.RFC3339), at.Add(30*time.Minute).Format(time.RFC3339))
		if code, m := api(t, a, "POST", "/api/talks", body); code != 201 {
			t.Fatalf("create: %d %v", code, m)
		}
	}

	var (
		mu      sync.Mutex
		pressed time.Time
		lat     [presses][]time.Duration
		got     [presses]sync.WaitGroup
	)
	for p := range presses {
		got[p].Add(n)
	}
	url := "ws://" + a.web.Addr() + "/ws/chat/main"
	conns := make([]*websocket.Conn, n)
	var dial sync.WaitGroup
	sem := make(chan struct{}, 64)
	dialStart := time.Now()
	for i := range n {
		dial.Add(1)
		sem <- struct{}{}
		go func() {
			defer dial.Done()
			defer func() { <-sem }()
			c, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				t.Errorf("viewer %d: %v", i, err)
				return
			}
			conns[i] = c
		}()
	}
	dial.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d viewers connected in %s", n, time.Since(dialStart).Round(time.Millisecond))
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, c := range conns {
		go func() {
			frame := 0
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					return
				}
				if frame < presses && bytes.Contains(b, []byte(`"type":"talk"`)) {
					mu.Lock()
					lat[frame] = append(lat[frame], time.Since(pressed))
					mu.Unlock()
					got[frame].Done()
					frame++
				}
			}
		}()
	}
	time.Sleep(2 * time.Second) // let the welcome frames and viewer counts settle before the first press

	for p := range presses {
		mu.Lock()
		pressed = time.Now()
		mu.Unlock()
		if code, m := api(t, a, "POST", "/api/stages/main/next", ""); code != 200 {
			t.Fatalf("next %d: %d %v", p, code, m)
		}
		answered := time.Since(pressed)
		done := make(chan struct{})
		go func() { got[p].Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("press %d: not every viewer got the talk frame within 60 s", p)
		}
		mu.Lock()
		l := slices.Clone(lat[p])
		mu.Unlock()
		slices.Sort(l)
		t.Logf("press %d: API answered in %s; talk frame at %d viewers p50 %s p99 %s max %s", p,
			answered.Round(time.Millisecond), len(l), pct(l, 50), pct(l, 99), l[len(l)-1].Round(time.Millisecond))
	}
	var all []time.Duration
	for p := range presses {
		all = append(all, lat[p]...)
	}
	slices.Sort(all)
	t.Logf("all %d presses × %d viewers: p50 %s p99 %s max %s", presses, n, pct(all, 50), pct(all, 99), all[len(all)-1].Round(time.Millisecond))
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted) - 1) * p / 100
	return sorted[i].Round(time.Millisecond)
}
