package chat

import (
	"context"
	"errors"
	"sync"
)

// ErrUnavailable wraps a change the room's log could not take (the cluster
// lost its majority, the disk is gone): the change was not made, and the
// caller may try again.
var ErrUnavailable = errors.New("the chat log is unavailable; nothing was changed, try again in a moment")

// RoomLog is the ordered log of one room's changes (record.go). The hub
// never changes its state directly: it appends a change, and applies
// changes as the log delivers them, in the log's order. So every hub that
// reads one log — one per node in a cluster — holds the same history,
// questions, votes and bans, whichever node a change came from.
//
// Two implementations: the journal on local disk (journal.go, one node) and
// a replicated JetStream stream (package cluster).
type RoomLog interface {
	// Append adds one encoded record. id names it: the same id appended
	// twice (a retry) is stored and delivered once. Append returns once the
	// log holds the record as durably as it promises (the local journal: in
	// memory, on disk within its flush interval; a replicated log: on a
	// majority of its servers) and this node has delivered it, so a caller
	// reads its own change when Append returns. An error means the change
	// may not have been made.
	Append(ctx context.Context, id string, rec []byte) error
	// Close stops delivering and releases the log.
	Close() error
}

// syncedLog is a log that may deliver a record on this node some time
// after another node's Append returned (a replicated log's consumer lags,
// or is being recreated): Sync waits until this node has delivered every
// record the log held when it was called. *cluster.ChatLog satisfies it.
type syncedLog interface {
	Sync(ctx context.Context) error
}

// RoomLogs opens the stages' logs. A consumer (Rooms, Hub) declares it; cmd
// passes the clustered implementation when salon runs on several nodes.
type RoomLogs interface {
	// OpenRoomLog opens the stage's log. It delivers every record the log
	// holds, oldest first, before it returns (the room's state is rebuilt
	// from them), then each record appended by anyone, until Close.
	// deliver is called from one goroutine at a time and must not call
	// Append.
	OpenRoomLog(stage string, deliver func(rec []byte)) (RoomLog, error)
}

// memoryLog is the log of a hub without a journal (tests, and the chat of
// a salon run without a data directory): it delivers each record at once
// and keeps nothing.
type memoryLog struct {
	mu      sync.Mutex // keeps deliveries in append order
	deliver func([]byte)
}

func (l *memoryLog) Append(_ context.Context, _ string, rec []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliver(rec)
	return nil
}

func (l *memoryLog) Close() error { return nil }
