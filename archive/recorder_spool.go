package archive

import (
	"context"
)

// The spool side of the Recorder: SegmentReady and RunEnded queue jobs that
// the spool goroutine (or, when its queue is full, the caller) writes to
// disk durably before they are queued for upload.

func (r *Recorder) submit(j job) {
	r.qmu.Lock()
	closed := r.stopping
	if !closed && len(r.queue) < queueCap {
		r.queue = append(r.queue, j)
		r.qmu.Unlock()
		wake(r.qWake)
		return
	}
	r.qmu.Unlock()
	if !closed {
		r.Log.Warn("spool writer is behind, writing the segment on the live path", "stage", j.stage, "run", j.run)
	}
	r.spoolPending(j)
}

// spoolPending writes every queued job, then extra (when given), in order.
func (r *Recorder) spoolPending(extra ...job) {
	r.spoolMu.Lock()
	defer r.spoolMu.Unlock()
	r.qmu.Lock()
	jobs := append(r.queue, extra...)
	r.queue = nil
	r.inFlight = len(jobs)
	r.qmu.Unlock()
	for _, j := range jobs {
		if j.seg != nil {
			r.spoolSegment(j)
		} else {
			r.spoolEnd(j)
		}
	}
	r.qmu.Lock()
	r.inFlight = 0
	r.qmu.Unlock()
	r.notify()
}

func (r *Recorder) spoolLoop(ctx context.Context) {
	defer close(r.spoolDone)
	for {
		select {
		case <-r.qWake:
			r.spoolPending()
		case <-ctx.Done():
			r.spoolPending()
			return
		}
	}
}

// run returns the state of a run, creating it; the caller holds mu.
func (r *Recorder) run(stage, id string) *runState {
	k := runKey{stage, id}
	rs := r.runs[k]
	if rs == nil {
		rs = &runState{stage: stage, id: id, inits: map[string]bool{}}
		r.runs[k] = rs
	}
	return rs
}

// spoolSegment writes a segment (and its init segment, the first time the
// run uses it) and its run log line, then queues them for upload.
func (r *Recorder) spoolSegment(j job) {
	seg := j.seg
	log := r.Log.With("stage", j.stage, "run", seg.Run, "seq", seg.Seq)
	rec := segRecord{Seq: seg.Seq, Duration: seg.Duration, Start: seg.Start, Init: seg.InitName}
	prefix := "stages/" + j.stage + "/" + seg.Run + "/"
	if err := rec.validate(); err != nil || ValidKey(prefix+seg.Name) != nil || seg.Name != segmentName(seg.Seq) {
		log.Error("segment not recorded: it does not fit the bucket layout", "name", seg.Name, "init", seg.InitName, "error", err)
		return
	}
	r.mu.Lock()
	rs := r.run(j.stage, seg.Run)
	newInit := !rs.inits[seg.InitName]
	r.mu.Unlock()

	var items []*upItem
	item := func(key string, data []byte) *upItem {
		held, ok := r.spoolOrHold(key, data, j.stage, seg.Run)
		if !ok {
			return nil
		}
		it := &upItem{key: key, path: r.sp.path(key), size: int64(len(data)), rs: rs, ready: j.ready}
		if held != nil {
			it.path, it.data = "", held
		}
		return it
	}
	if newInit {
		it := item(prefix+seg.InitName, seg.Init)
		if it == nil {
			log.Error("init segment not recorded: the archive of this run is unplayable")
			return
		}
		items = append(items, it)
	}
	it := item(prefix+seg.Name, seg.Data)
	if it == nil {
		return
	}
	it.seg, it.seq = true, seg.Seq
	items = append(items, it)
	if err := r.sp.appendLine(r.sp.path(prefix+runLogName), runLogLine(runLine{Seg: &rec})); err != nil {
		// The segment is spooled and will be stored; after a crash it would
		// be missing from the rebuilt playlist.
		log.Error("run log not written", "error", err)
	}

	r.mu.Lock()
	if newInit {
		rs.inits[seg.InitName] = true
	}
	// Keep segs sorted even if the synchronous fallback ever reorders.
	i := len(rs.segs)
	for i > 0 && rs.segs[i-1].Seq > rec.Seq {
		i--
	}
	rs.segs = append(rs.segs[:i], append([]segRecord{rec}, rs.segs[i:]...)...)
	for _, it := range items {
		r.up = append(r.up, it)
		if it.data == nil {
			r.spoolBytes += it.size
		}
		rs.queued++
	}
	r.spoolSizeChanged()
	changes := r.warningChanges()
	r.mu.Unlock()
	r.applyWarnings(changes)
}

func (r *Recorder) spoolEnd(j job) {
	r.mu.Lock()
	rs := r.runs[runKey{j.stage, j.run}]
	r.mu.Unlock()
	if rs == nil {
		return // a run without segments leaves nothing in the bucket
	}
	p := r.sp.path(rs.prefix() + runLogName)
	if err := r.sp.appendLine(p, runLogLine(runLine{Ended: true})); err != nil {
		r.Log.Error("run end not logged: a restart closes the run anyway", "stage", j.stage, "run", j.run, "error", err)
	}
	r.mu.Lock()
	rs.ended = true
	rs.dirty = true
	rs.version++
	r.mu.Unlock()
}
