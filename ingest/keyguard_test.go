package ingest

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestKeyGuard_Blocked(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	type step struct {
		at      time.Duration // since the start
		addr    netip.Addr
		op      string // "fail", "ok" or "check"
		blocked bool   // for check
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"under the limit", []step{{0, a, "fail", false}, {time.Second, a, "fail", false}, {2 * time.Second, a, "check", false}}},
		{"limit reached blocks for a window", []step{
			{0, a, "fail", false}, {0, a, "fail", false}, {0, a, "fail", false},
			{time.Second, a, "check", true}, {time.Second, b, "check", false},
			{30 * time.Second, a, "check", true}, {62 * time.Second, a, "check", false},
		}},
		{"failures spread over more than a window", []step{
			{0, a, "fail", false}, {0, a, "fail", false}, {61 * time.Second, a, "fail", false}, {61 * time.Second, a, "check", false},
		}},
		{"a right key forgets the failures", []step{
			{0, a, "fail", false}, {0, a, "fail", false}, {0, a, "ok", false}, {0, a, "fail", false}, {0, a, "check", false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1e9, 0)
			var now time.Time
			g := newKeyGuard(Limits{KeyFailures: 3, KeyWindow: time.Minute}, nil, slog.New(slog.DiscardHandler))
			g.now = func() time.Time { return now }
			for i, s := range tc.steps {
				now = start.Add(s.at)
				switch s.op {
				case "fail":
					g.failed(s.addr)
				case "ok":
					g.succeeded(s.addr)
				case "check":
					if got := g.blocked(s.addr) > 0; got != s.blocked {
						t.Errorf("step %d: %s blocked = %v, want %v", i, s.addr, got, s.blocked)
					}
				}
			}
		})
	}
}

func TestKeyedLogLimiter_Log(t *testing.T) {
	log, buf := teeLogger(t)
	kl := newKeyedLogLimiter(log, time.Hour)
	for range 100 {
		kl.log(slog.LevelWarn, "192.0.2.1", "publish refused", "remote", "192.0.2.1")
	}
	kl.log(slog.LevelWarn, "192.0.2.2", "publish refused", "remote", "192.0.2.2")
	if n := countLines(buf.String(), "publish refused"); n != 2 {
		t.Errorf("%d lines for 101 refusals from 2 addresses, want 2:\n%s", n, buf.String())
	}
	kl.keys["192.0.2.1"].last = time.Now().Add(-2 * time.Hour)
	kl.log(slog.LevelWarn, "192.0.2.1", "publish refused", "remote", "192.0.2.1")
	if !strings.Contains(buf.String(), "similar_since_last=99") {
		t.Errorf("the next line does not count the 99 held back:\n%s", buf.String())
	}
}
