package ingest

import (
	"log/slog"
	"sync"
	"time"
)

// logLimiter logs a recurring problem (decode errors, lost packets) at most
// once per interval, with the number of occurrences it held back.
// mu guards last and held.
type logLimiter struct {
	logger   *slog.Logger
	interval time.Duration
	attrs    []any // added to every line, e.g. "stage", "main"

	mu   sync.Mutex
	last time.Time
	held int
}

func newLogLimiter(l *slog.Logger, interval time.Duration, attrs ...any) *logLimiter {
	return &logLimiter{logger: l, interval: interval, attrs: attrs}
}

func (ll *logLimiter) log(msg string, args ...any) {
	ll.mu.Lock()
	now := time.Now()
	if !ll.last.IsZero() && now.Sub(ll.last) < ll.interval {
		ll.held++
		ll.mu.Unlock()
		return
	}
	held := ll.held
	ll.last, ll.held = now, 0
	ll.mu.Unlock()
	args = append(append(args, ll.attrs...), "similar_since_last", held)
	ll.logger.Warn(msg, args...)
}
