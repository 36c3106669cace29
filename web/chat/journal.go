package chat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A journal is a stage's chat on local disk, the RoomLog of a salon that
// runs alone: every message, every change to one (deleted, votes,
// answered) and every ban, appended as one JSON line (record.go).
// Appends only fill a buffer; a flusher writes and fsyncs it at most
// flushEvery apart, so posting never waits on the disk and a crash loses at
// most the last batch. On start the hub replays the journal, so history,
// moderation and the talks' chat survive a restart.

// defaultFlushEvery is the batch interval. The bound is one second
// of loss; half that leaves room for the write and fsync themselves.
const defaultFlushEvery = 500 * time.Millisecond

// maxJournalBuffer bounds what waits in memory while the disk fails (full,
// read-only): past it, the oldest unwritten records are dropped, loudly.
const maxJournalBuffer = 16 << 20

// maxJournalLine bounds one record when reading back: messages are 500
// characters, so anything near this is corruption.
const maxJournalLine = 64 << 10

// journal is the RoomLog of a salon on one node.
type journal struct {
	path    string
	every   time.Duration
	log     *slog.Logger
	deliver func([]byte)

	// order is held across delivering a record and buffering it, so the
	// file's order is the order the hub applied.
	order sync.Mutex

	f        *os.File
	mu       sync.Mutex // guards buf, failing
	buf      []byte
	failed   bool // the last write failed; logged once until it works again
	done     chan struct{}
	quit     chan struct{}
	once     sync.Once
	closeErr error
}

// openJournal opens (creating) the journal at path and delivers what it
// holds, oldest first. A torn last line, as a crash leaves, is skipped.
func openJournal(path string, every time.Duration, log *slog.Logger, deliver func([]byte)) (*journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("chat journal: create %s: %w (check -data is writable)", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("chat journal: open %s: %w (check -data is writable)", path, err)
	}
	lines, bad, err := readJournal(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("chat journal: read %s: %w", path, err)
	}
	if bad > 0 {
		log.Warn("chat journal has unreadable lines; skipped them", "path", path, "lines", bad)
	}
	if every <= 0 {
		every = defaultFlushEvery
	}
	j := &journal{
		path:    path,
		every:   every,
		log:     log,
		deliver: deliver,
		f:       f,
		done:    make(chan struct{}),
		quit:    make(chan struct{}),
	}
	for _, line := range lines {
		deliver(line)
	}
	go j.run()
	return j, nil
}

// readJournal reads every record's line (the hub decodes them); overlong
// lines are skipped and counted. A torn last line (no newline) is dropped
// and counted; the next append starts a fresh line so it cannot glue onto it.
func readJournal(f *os.File) ([][]byte, int, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	var recs [][]byte
	bad := 0
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Skip the rest of an overlong line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			bad++
			if err == nil {
				continue
			}
		}
		if err == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				bad++ // torn by a crash mid-write
			}
			return recs, bad, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(line) > maxJournalLine {
			bad++
			continue
		}
		recs = append(recs, bytes.Clone(bytes.TrimSpace(line)))
	}
}

// Append delivers rec to the hub and queues it for the disk; it never
// blocks on the disk. A crash loses at most the last FlushEvery.
func (j *journal) Append(_ context.Context, _ string, rec []byte) error {
	j.order.Lock()
	defer j.order.Unlock()
	j.deliver(rec)
	j.append(rec)
	return nil
}

// append queues one encoded record.
func (j *journal) append(line []byte) {
	j.mu.Lock()
	if len(j.buf) == 0 {
		// A crash may have left a torn line at the end of the file: start
		// each batch on a fresh line so it cannot glue onto it. Empty lines
		// are skipped when reading.
		j.buf = append(j.buf, '\n')
	}
	j.buf = append(j.buf, line...)
	j.buf = append(j.buf, '\n')
	if over := len(j.buf) - maxJournalBuffer; over > 0 {
		i := bytes.IndexByte(j.buf[over:], '\n')
		j.buf = append(j.buf[:0], j.buf[over+i+1:]...)
		j.log.Error("chat journal: disk writes keep failing; dropped the oldest unwritten messages", "path", j.path)
	}
	j.mu.Unlock()
}

// run writes and fsyncs the buffer every j.every until close.
func (j *journal) run() {
	defer close(j.done)
	t := time.NewTicker(j.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			j.flush()
		case <-j.quit:
			j.flush()
			return
		}
	}
}

// flush writes what is buffered and fsyncs it. On failure the data stays
// buffered for the next attempt.
func (j *journal) flush() {
	j.mu.Lock()
	data := j.buf
	j.buf = nil
	j.mu.Unlock()
	if len(data) == 0 {
		return
	}
	_, err := j.f.Write(data)
	if err == nil {
		err = j.f.Sync()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		// Keep the batch, ahead of what came meanwhile. A partly written
		// batch is written again whole: the reader takes the last record of
		// a message, and a repeated ban is harmless.
		j.buf = append(data, j.buf...)
		if !j.failed {
			j.log.Error("chat journal: write failed; messages are kept in memory and retried (check the disk under -data)", "path", j.path, "err", err)
			j.failed = true
		}
		return
	}
	if j.failed {
		j.log.Info("chat journal: writes work again", "path", j.path)
		j.failed = false
	}
}

// Close flushes what is left and closes the file; later calls return the
// first call's result.
func (j *journal) Close() error {
	j.once.Do(func() {
		close(j.quit)
		<-j.done
		j.mu.Lock()
		left := len(j.buf)
		j.mu.Unlock()
		j.closeErr = j.f.Close()
		if left > 0 {
			j.closeErr = fmt.Errorf("chat journal %s: %d bytes could not be written", j.path, left)
		}
	})
	return j.closeErr
}
