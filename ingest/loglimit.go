package ingest

import (
	"context"
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

// maxLogKeys bounds the addresses a keyedLogLimiter remembers: past it,
// entries older than the interval are forgotten, and if all are recent the
// line is logged without a count rather than remembered.
const maxLogKeys = 4096

// keyedLogLimiter logs a recurring event at most once per interval per key
// (a client address), with the number of events held back since that key's
// last line. mu guards keys.
type keyedLogLimiter struct {
	logger   *slog.Logger
	interval time.Duration

	mu   sync.Mutex
	keys map[string]*keyedLogState
}

type keyedLogState struct {
	last time.Time
	held int
}

func newKeyedLogLimiter(l *slog.Logger, interval time.Duration) *keyedLogLimiter {
	return &keyedLogLimiter{logger: l, interval: interval, keys: map[string]*keyedLogState{}}
}

// log writes msg at level unless key had a line within the interval; the
// line carries "similar_since_last", the events held back before it.
func (kl *keyedLogLimiter) log(level slog.Level, key, msg string, args ...any) {
	now := time.Now()
	kl.mu.Lock()
	st := kl.keys[key]
	if st != nil && now.Sub(st.last) < kl.interval {
		st.held++
		kl.mu.Unlock()
		return
	}
	held := 0
	if st != nil {
		held = st.held
		st.last, st.held = now, 0
	} else {
		if len(kl.keys) >= maxLogKeys {
			for k, s := range kl.keys {
				if now.Sub(s.last) >= kl.interval {
					delete(kl.keys, k)
				}
			}
		}
		if len(kl.keys) < maxLogKeys {
			kl.keys[key] = &keyedLogState{last: now}
		}
	}
	kl.mu.Unlock()
	kl.logger.Log(context.Background(), level, msg, append(args, "similar_since_last", held)...)
}
