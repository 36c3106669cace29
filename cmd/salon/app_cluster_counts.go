package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/salon/salon/cluster"
	"github.com/salon/salon/stats"
)

// countsEvery is how often a node writes its counts to the cluster; well
// under cluster.DefaultCountsTTL, after which a silent node is left out.
const countsEvery = 5 * time.Second

// nodeCounts is what a node tells the others it counts now.
type nodeCounts struct {
	// Viewers are the live viewers per stage on this node.
	Viewers map[string]int `json:"viewers"`
	// Day is today's statistics on this node (with -stats).
	Day *stats.Day `json:"day,omitempty"`
}

// sharedCounts adds the other nodes' counts to this node's: live viewers
// for web (otherViewers), the day's statistics for /api/stats
// (clusterStats). It writes this node's counts every countsEvery. mu
// guards parsed.
type sharedCounts struct {
	counts *cluster.NodeCounts
	log    *slog.Logger
	// local reads this node's counts; set before start.
	local func() nodeCounts

	mu     sync.Mutex
	parsed map[string]parsedCounts // by node

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type parsedCounts struct {
	rev    uint64
	counts nodeCounts
}

func newSharedCounts(c *cluster.NodeCounts, log *slog.Logger) *sharedCounts {
	return &sharedCounts{counts: c, log: log, parsed: map[string]parsedCounts{}}
}

// start writes this node's counts now and every countsEvery until close.
func (s *sharedCounts) start(local func() nodeCounts) {
	s.local = local
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(countsEvery)
		defer t.Stop()
		failing := false
		for {
			data, _ := json.Marshal(s.local())
			wctx, wcancel := context.WithTimeout(ctx, countsEvery)
			err := s.counts.Put(wctx, data)
			wcancel()
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				s.log.Warn("this node's viewer counts are not reaching the other nodes; retried", "err", err)
			case err == nil && failing:
				s.log.Info("this node's viewer counts reach the other nodes again")
			}
			failing = err != nil
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// close stops writing and removes this node's counts.
func (s *sharedCounts) close() {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	s.counts.Close()
}

// others are the other live nodes' counts, each parsed once per write.
func (s *sharedCounts) others() []nodeCounts {
	vals := s.counts.Others()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]nodeCounts, 0, len(vals))
	live := make(map[string]bool, len(vals))
	for _, v := range vals {
		live[v.Node] = true
		p, ok := s.parsed[v.Node]
		if !ok || p.rev != v.Rev {
			p = parsedCounts{rev: v.Rev}
			if err := json.Unmarshal(v.Data, &p.counts); err != nil {
				s.log.Warn("another node's counts do not read; left out", "node", v.Node, "err", err)
			}
			s.parsed[v.Node] = p
		}
		out = append(out, p.counts)
	}
	for n := range s.parsed {
		if !live[n] {
			delete(s.parsed, n)
		}
	}
	return out
}

// Viewers is the live viewers of stage on the other nodes.
func (s *sharedCounts) Viewers(stage string) int {
	n := 0
	for _, o := range s.others() {
		n += o.Viewers[stage]
	}
	return n
}

// clusterStats is this node's statistics with today's numbers of the
// other live nodes added (stats.SumNodes). Earlier days, kept by each node
// in its own data directory, are this node's only.
type clusterStats struct {
	*stats.Counter
	shared *sharedCounts
}

// othersOn are the other nodes' numbers of date.
func (c clusterStats) othersOn(date string) []stats.Day {
	var out []stats.Day
	for _, o := range c.shared.others() {
		if o.Day != nil && o.Day.Date == date {
			out = append(out, *o.Day)
		}
	}
	return out
}

func (c clusterStats) Day(date string) (stats.Day, bool) {
	if date == "" {
		date = c.Today()
	}
	d, ok := c.Counter.Day(date)
	others := c.othersOn(date)
	if len(others) == 0 {
		return d, ok
	}
	if !ok {
		d = stats.Day{Date: date}
	}
	return stats.SumNodes(append([]stats.Day{d}, others...)...), true
}

func (c clusterStats) Days() []string {
	days := c.Counter.Days()
	for _, o := range c.shared.others() {
		if o.Day != nil && !slices.Contains(days, o.Day.Date) {
			days = append(days, o.Day.Date)
		}
	}
	slices.Sort(days)
	return days
}

func (c clusterStats) Talk(id string) stats.Totals {
	ts := []stats.Totals{c.Counter.Talk(id)}
	for _, d := range c.othersOn(c.Today()) {
		if t, ok := d.Talks[id]; ok {
			ts = append(ts, t)
		}
	}
	if len(ts) == 1 {
		return ts[0]
	}
	return stats.SumNodeTotals(ts...)
}
