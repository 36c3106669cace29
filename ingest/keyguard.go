package ingest

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"time"
)

// maxKeyGuardAddrs bounds the addresses a keyGuard remembers; an attacker
// rotating addresses fills it with entries that expire after one window.
const maxKeyGuardAddrs = 16384

// keyGuard slows down guessing of the publish key: after Limits.KeyFailures
// wrong keys from one address within Limits.KeyWindow, that address is
// refused for KeyWindow, right key or not (otherwise the block would not stop
// guessing). Refusals are logged at most once per address per 30 s, with a
// count. mu guards addrs.
type keyGuard struct {
	failures int
	window   time.Duration
	logs     *keyedLogLimiter
	counters *ingestCounters
	now      func() time.Time

	mu    sync.Mutex
	addrs map[netip.Addr]*keyFailures
}

type keyFailures struct {
	first time.Time // start of the current window
	n     int
	until time.Time // refused until then
}

func newKeyGuard(l Limits, counters *ingestCounters, log *slog.Logger) *keyGuard {
	l = l.withDefaults()
	return &keyGuard{failures: l.KeyFailures, window: l.KeyWindow, logs: newKeyedLogLimiter(log, 30*time.Second),
		counters: counters, now: time.Now, addrs: map[netip.Addr]*keyFailures{}}
}

// blocked returns how long addr must still wait, or 0.
func (g *keyGuard) blocked(addr netip.Addr) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.addrs[addr]; f != nil {
		if d := f.until.Sub(g.now()); d > 0 {
			g.counters.refuse(reasonKeyBackoff)
			return d
		}
	}
	return 0
}

// failed records a wrong key from addr.
func (g *keyGuard) failed(addr netip.Addr) {
	g.counters.refuse(reasonWrongKey)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.addrs[addr]
	if f == nil {
		if len(g.addrs) >= maxKeyGuardAddrs {
			for a, o := range g.addrs {
				if now.Sub(o.first) >= g.window && !o.until.After(now) {
					delete(g.addrs, a)
				}
			}
		}
		if len(g.addrs) >= maxKeyGuardAddrs {
			return // every entry is fresh: a large attack; the connection limits still hold
		}
		f = &keyFailures{first: now}
		g.addrs[addr] = f
	}
	if now.Sub(f.first) >= g.window {
		f.first, f.n = now, 0
	}
	f.n++
	if f.n >= g.failures {
		f.until = now.Add(g.window)
		f.first, f.n = now, 0
	}
}

// succeeded forgets addr's failures.
func (g *keyGuard) succeeded(addr netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.addrs, addr)
}

// refuse logs a refused publish attempt from addr, rate-limited per address.
func (g *keyGuard) refuse(addr netip.Addr, stage, reason string) {
	g.logs.log(slog.LevelWarn, addr.String(), "publish refused", "stage", stage, "remote", addr.String(), "reason", reason)
}

// blockedReason tells a refused client when it may try again.
func blockedReason(wait time.Duration) string {
	return fmt.Sprintf("too many wrong publish keys from your address: try again in %d s with the right key", int(math.Ceil(wait.Seconds())))
}
