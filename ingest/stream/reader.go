package stream

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// reader is one subscriber: a bounded queue of units drained by one goroutine.
// Control events (Start, End) are never dropped; units are, when the queue is
// full, so that the publisher never waits for a slow reader.
//
// An inline reader has no goroutine: the goroutine that queued an event
// (a publisher's, writing a unit) drains the queue right after, outside the
// registry's lock, unless another goroutine is draining it already (that
// one drains what was queued meanwhile). Its fn sees the events one at a
// time and in order all the same, and no goroutine is woken per unit.
//
// mu guards queue, dropped and closing; drainMu is held by an inline
// reader's drainer and guards spare.
type reader struct {
	name string
	// filtered limits the reader to one publish path's events: stage and
	// rendition ("" is the source).
	filtered         bool
	stage, rendition string
	size             int
	fn               func(Event)
	log              *slog.Logger

	mu           sync.Mutex
	queue        []Event
	units        int // units in queue
	dropped      int // dropped since the last delivered event
	totalDropped int
	lastLog      time.Time
	closing      bool
	// deferredSince is when the oldest unit queued without a wake-up
	// arrived (zero: none waits).
	deferredSince time.Time
	wake          chan struct{}
	done          chan struct{}

	inline  bool
	due     atomic.Bool // an inline reader has events to drain
	drainMu sync.Mutex
	spare   []Event
}

func newReader(name string, size int, fn func(Event), log *slog.Logger) *reader {
	rd := &reader{
		name: name, size: size, fn: fn, log: log,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go rd.run()
	return rd
}

func newInlineReader(name string, size int, fn func(Event), log *slog.Logger) *reader {
	return &reader{name: name, size: size, fn: fn, log: log, inline: true, done: make(chan struct{})}
}

// wants tells whether the reader reads the events of a publish path.
func (rd *reader) wants(stage, rendition string) bool {
	return !rd.filtered || (rd.stage == stage && rd.rendition == rendition)
}

// maxDeferral bounds how long a unit pushed with lazy set waits in the
// queue for a wake-up: audio whose video stopped still flows.
const maxDeferral = 100 * time.Millisecond

// push enqueues ev. control events always fit; units are dropped when full
// (push then returns false). A unit pushed lazy does not wake the reader's
// goroutine: it is read with the next unit that does (the next video frame,
// at most a frame interval later), unless the queue fills to a quarter or
// the oldest such unit waits maxDeferral. Each wake-up costs a goroutine
// hand-off and, on an idle server, a thread woken from sleep; audio
// frames (~47 a second of AAC at 48 kHz) then share the video frames'.
func (rd *reader) push(ev Event, control, lazy bool) bool {
	rd.mu.Lock()
	if rd.closing {
		rd.mu.Unlock()
		return true
	}
	if !control && rd.units >= rd.size {
		rd.dropped++
		rd.totalDropped++
		if time.Since(rd.lastLog) > 10*time.Second {
			rd.lastLog = time.Now()
			rd.log.Warn("reader too slow, dropping units", "reader", rd.name, "stage", ev.Stage, "dropped_total", rd.totalDropped)
		}
		rd.mu.Unlock()
		return false
	}
	ev.Dropped = rd.dropped
	rd.dropped = 0
	rd.queue = append(rd.queue, ev)
	if ev.Unit != nil {
		rd.units++
	}
	wake := control || !lazy || ev.Unit == nil || rd.units >= rd.size/4
	if !wake {
		if rd.deferredSince.IsZero() {
			rd.deferredSince = ev.Unit.Received
		}
		wake = ev.Unit.Received.Sub(rd.deferredSince) >= maxDeferral
	}
	if wake {
		rd.deferredSince = time.Time{}
		if rd.inline {
			rd.due.Store(true)
			wake = false
		}
	}
	rd.mu.Unlock()
	if wake {
		select {
		case rd.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (rd *reader) run() {
	defer close(rd.done)
	var batch []Event
	for {
		rd.mu.Lock()
		batch, rd.queue = rd.queue, batch[:0]
		rd.units = 0
		closing := rd.closing
		rd.mu.Unlock()
		for i := range batch {
			rd.fn(batch[i])
			batch[i] = Event{}
		}
		if len(batch) > 0 {
			continue
		}
		if closing {
			return
		}
		<-rd.wake
	}
}

// drain runs an inline reader's fn over its queued events on the calling
// goroutine, unless none is due (a lazy unit waits for the next one) or
// another goroutine is draining: that one loops until nothing is due.
func (rd *reader) drain() {
	for rd.due.Load() && rd.drainMu.TryLock() {
		rd.due.Store(false)
		rd.mu.Lock()
		batch := rd.queue
		rd.queue, rd.units = rd.spare[:0], 0
		rd.mu.Unlock()
		for i := range batch {
			rd.fn(batch[i])
			batch[i] = Event{}
		}
		rd.spare = batch
		rd.drainMu.Unlock()
	}
}

// close lets the goroutine drain what is queued, then waits for it. An
// inline reader's queue is drained here, after a drainer at work is done.
func (rd *reader) close() {
	rd.mu.Lock()
	rd.closing = true
	rd.mu.Unlock()
	if rd.inline {
		rd.drainMu.Lock()
		rd.mu.Lock()
		batch := rd.queue
		rd.queue, rd.units = nil, 0
		rd.mu.Unlock()
		for _, ev := range batch {
			rd.fn(ev)
		}
		rd.drainMu.Unlock()
		return
	}
	select {
	case rd.wake <- struct{}{}:
	default:
	}
	<-rd.done
}
