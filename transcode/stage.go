package transcode

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
)

// stageWorker keeps one ffmpeg child running for one stage while the
// stage's source is live. Two goroutines: the stage's registry reader (feed:
// units to the child's stdin) and the supervisor (start, watch, restart with
// back-off, stop). mu guards src, cur and the state; the feed's own fields
// (feed, feedProc) belong to the reader goroutine.
type stageWorker struct {
	t     *Transcoder
	stage string
	log   *slog.Logger
	unsub func()
	wake  chan struct{} // the source changed; capacity 1
	done  chan struct{} // the supervisor returned

	// reader goroutine only
	feed     *tsFeed
	feedProc *process
	feedErr  bool

	mu         sync.Mutex
	src        *stream.Stream // the live publish; nil when offline
	cur        *process       // the running child; nil between runs
	renditions []string       // what the current source gets
	restarts   int
	lastExit   string
	lastExitAt time.Time
	nextStart  time.Time
	note       string // why nothing runs while the source is live
	// dropped counts the source's units the registry dropped before the
	// feed (ffmpeg did not keep up); each drop makes the feed wait for the
	// next keyframe.
	dropped uint64
}

func newStageWorker(t *Transcoder, stage string) *stageWorker {
	w := &stageWorker{
		t: t, stage: stage,
		log:  t.Log.With("stage", stage),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go w.supervise()
	// The stage's source only: its renditions (ours among them) are not fed.
	w.unsub = t.Registry.SubscribePath("transcode-"+stage, stage, "", w.handle)
	return w
}

// close stops the reader, then the child.
func (w *stageWorker) close() {
	w.unsub()
	<-w.done
}

// handle runs on the stage's reader goroutine. A blocked write to a slow
// ffmpeg only fills this reader's queue: the registry drops units here and
// the feed starts over at the next keyframe; the source never waits.
func (w *stageWorker) handle(ev stream.Event) {
	switch {
	case ev.Start != nil:
		w.mu.Lock()
		w.src = ev.Start
		w.mu.Unlock()
		w.signal()
		return
	case ev.End:
		w.mu.Lock()
		w.src = nil
		w.mu.Unlock()
		w.signal()
		return
	case ev.Unit == nil:
		return
	}
	w.mu.Lock()
	p, src := w.cur, w.src
	if ev.Dropped > 0 && p != nil {
		w.dropped += uint64(ev.Dropped)
	}
	w.mu.Unlock()
	if p == nil || src == nil {
		return
	}
	if p != w.feedProc {
		w.feedProc, w.feedErr = p, false
		f, err := newTSFeed(p.stdin, src)
		if err != nil {
			w.feedErr = true
			w.log.Warn("transcode: cannot feed ffmpeg", "error", err)
			return
		}
		w.feed = f
	}
	if w.feedErr {
		return
	}
	if ev.Dropped > 0 {
		w.feed.resync()
	}
	ok, err := w.feed.write(ev.Unit)
	if err != nil {
		// The child is gone or going: the supervisor sees it exit.
		w.feedErr = true
		return
	}
	if ok {
		p.fedAt.Store(time.Now().UnixNano())
	}
}

func (w *stageWorker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// supervise runs children while the source is live, one at a time.
func (w *stageWorker) supervise() {
	defer close(w.done)
	ctx := w.t.ctx
	delay := w.t.MinBackoff
	var lastSrc *stream.Stream
	for {
		w.mu.Lock()
		src := w.src
		w.mu.Unlock()
		if src != lastSrc {
			delay, lastSrc = w.t.MinBackoff, src // a new publish starts afresh
		}
		if src == nil {
			w.setIdle("")
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		outs, note := w.t.outputsFor(src)
		if len(outs) == 0 {
			w.setIdle(note)
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		p, err := w.t.start(ctx, outs)
		if err != nil {
			w.t.restarts.WithLabelValues(w.stage).Inc()
			w.log.Error("transcode: cannot start ffmpeg; retrying", "error", err, "retry_in", delay.String())
			w.failed(err.Error(), delay)
		} else {
			w.running(p, outs, note)
			ended := w.watch(ctx, p, src)
			w.mu.Lock()
			w.cur = nil
			w.mu.Unlock()
			switch ended {
			case endStopped:
				w.warn(stream.Warning{})
				continue // the source ended or changed: no failure
			case endShutdown:
				w.warn(stream.Warning{})
				return
			}
			ran := time.Since(p.started)
			if ran >= w.t.HealthyAfter {
				delay = w.t.MinBackoff
			}
			msg := p.exitError()
			if ended == endStalled {
				msg = "stopped producing for " + w.t.StallTimeout.String() + ", killed: " + msg
			}
			w.t.restarts.WithLabelValues(w.stage).Inc()
			w.log.Error("transcode: ffmpeg ended; restarting", "pid", p.pid, "ran", ran.Round(time.Second).String(),
				"reason", msg, "stderr", p.tail.String(), "restart_in", delay.String())
			w.failed(msg, delay)
		}
		// Back-off: the source rendition goes on meanwhile; a source that
		// ends or changes cuts the wait short.
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-w.wake:
			timer.Stop()
			w.signal() // read the source again at the top
		case <-ctx.Done():
			timer.Stop()
			return
		}
		delay = min(2*delay, w.t.MaxBackoff)
	}
}

type endReason int

const (
	endExited   endReason = iota // the child exited by itself
	endStalled                   // it stopped producing and was killed
	endStopped                   // the source ended or changed; the child was stopped
	endShutdown                  // salon is shutting down; the child was stopped
)

// watch waits until the child exits, stalls, or has to stop.
func (w *stageWorker) watch(ctx context.Context, p *process, src *stream.Stream) endReason {
	tick := time.NewTicker(w.t.checkEvery())
	defer tick.Stop()
	var waitingSince time.Time // units fed but no frame out since then
	lastFrames, lastFed := p.frames.Load(), p.fedAt.Load()
	for {
		select {
		case <-p.done:
			return endExited
		case <-ctx.Done():
			p.stop(w.t.StopGrace)
			w.log.Info("transcode: ffmpeg stopped (shutdown)", "pid", p.pid)
			return endShutdown
		case <-w.wake:
			w.mu.Lock()
			same := w.src == src
			w.mu.Unlock()
			if same {
				continue
			}
			p.stop(w.t.StopGrace)
			w.log.Info("transcode: ffmpeg stopped, the source ended", "pid", p.pid, "ran", time.Since(p.started).Round(time.Second).String())
			w.signal() // the supervisor reads the new source
			return endStopped
		case now := <-tick.C:
			if now.Sub(p.started) >= w.t.HealthyAfter {
				w.warn(stream.Warning{}) // running well again
			}
			frames, fed := p.frames.Load(), p.fedAt.Load()
			switch {
			case frames != lastFrames:
				waitingSince = time.Time{}
			case fed != lastFed && waitingSince.IsZero():
				waitingSince = now
			}
			lastFrames, lastFed = frames, fed
			if !waitingSince.IsZero() && now.Sub(waitingSince) > w.t.StallTimeout {
				p.kill()
				return endStalled
			}
		}
	}
}

func (w *stageWorker) running(p *process, outs []output, note string) {
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.Name
	}
	w.mu.Lock()
	w.cur, w.renditions, w.note, w.nextStart = p, names, note, time.Time{}
	w.mu.Unlock()
	w.log.Info("transcode: ffmpeg started", "pid", p.pid, "renditions", names, "encoder", w.t.Encoder)
	if note != "" {
		w.log.Info("transcode: " + note)
	}
}

func (w *stageWorker) failed(msg string, delay time.Duration) {
	w.mu.Lock()
	w.restarts++
	w.lastExit, w.lastExitAt = msg, time.Now()
	w.nextStart = time.Now().Add(delay)
	n := w.restarts
	w.mu.Unlock()
	w.warn(stream.Warn("transcode.restarting", "Exit", msg, "Delay", delay.Round(time.Second).String(), "Restarts", strconv.Itoa(n)))
}

// warn shows sw on the stage, or clears the warning when sw is zero.
func (w *stageWorker) warn(sw stream.Warning) {
	if w.t.Warnings != nil {
		w.t.Warnings.SetWarning(w.stage, warningKey, sw)
	}
}

func (w *stageWorker) setIdle(note string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if note != "" && note != w.note {
		w.log.Info("transcode: nothing to make for this publish", "reason", note)
	}
	w.renditions, w.note, w.nextStart = nil, note, time.Time{}
}

func (w *stageWorker) state() StageState {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := StageState{
		Stage:      w.stage,
		Live:       w.src != nil,
		Renditions: append([]string(nil), w.renditions...),
		Restarts:   w.restarts,
		LastExit:   w.lastExit,
		Note:       w.note,
		Dropped:    w.dropped,
	}
	if !w.lastExitAt.IsZero() {
		t := w.lastExitAt.UTC()
		s.LastExitAt = &t
	}
	if w.cur != nil {
		s.Running, s.PID = true, w.cur.pid
		t := w.cur.started.UTC()
		s.Since = &t
	} else if !w.nextStart.IsZero() && w.src != nil {
		t := w.nextStart.UTC()
		s.NextStart = &t
	}
	return s
}

// videoHeight is the coded height of the publish's first video track, 0
// when unknown.
func videoHeight(s *stream.Stream) int {
	for _, t := range s.Tracks {
		switch c := t.Codec.(type) {
		case *mp4codecs.H264:
			var sps h264.SPS
			if sps.Unmarshal(c.SPS) == nil {
				return sps.Height()
			}
			return 0
		case *mp4codecs.H265:
			var sps h265.SPS
			if sps.Unmarshal(c.SPS) == nil {
				return sps.Height()
			}
			return 0
		}
	}
	return 0
}
