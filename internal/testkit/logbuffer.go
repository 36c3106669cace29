// Package testkit holds the helpers salon's tests share across packages,
// so that each has one owner instead of a copy per package.
package testkit

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LogBuffer collects output that goroutines write while a test reads it
// (a component's log, a child process's stderr). The zero value is ready.
type LogBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced by each Write
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// WaitFor waits until what was written contains s, at most limit; it
// tells whether it does.
func (l *LogBuffer) WaitFor(s string, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if strings.Contains(l.b.String(), s) {
			l.mu.Unlock()
			return true
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return strings.Contains(l.String(), s)
		}
	}
}

// Logger is a text logger that writes to l at every level.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
