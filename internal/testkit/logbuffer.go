// Package testkit holds the helpers salon's tests share across packages,
// so that each has one owner instead of a copy per package.
package testkit

import (
	"bytes"
	"log/slog"
	"sync"
)

// LogBuffer collects output that goroutines write while a test reads it
// (a component's log, a child process's stderr). The zero value is ready.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger is a text logger that writes to l at every level.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
