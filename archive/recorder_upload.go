package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/salon/salon/ingest/stream"
)

// putTimeout bounds one upload attempt, so that a hung connection is
// retried instead of stalling the queue.
const putTimeout = time.Minute

// outageLogEvery is how often a continuing outage is logged again.
const outageLogEvery = time.Minute

// outage is the uploader's record of failing uploads (guarded by mu).
type outage struct {
	since    time.Time // first failure; zero while uploads succeed
	failures int       // consecutive failed attempts
	lastLog  time.Time
}

// uploadTask is the uploader's next piece of work: one spooled object, or
// the playlist of a run rendered from its stored segments.
type uploadTask struct {
	item     *upItem   // spooled object, or nil
	rs       *runState // playlist of rs when item is nil
	playlist []byte
	version  int
	final    bool // the run ended and every segment is listed
}

func (t *uploadTask) key() string {
	if t.item != nil {
		return t.item.key
	}
	return playlistKey(t.rs)
}

// uploadLoop is the one uploader goroutine: it stores the next task,
// retrying with back-off until it succeeds or the recorder stops.
func (r *Recorder) uploadLoop() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		task := r.nextTask()
		r.mu.Unlock()
		if task == nil {
			select {
			case <-r.upWake:
				continue
			case <-r.ctx.Done():
				return
			}
		}
		err := r.put(task)
		if r.ctx.Err() != nil {
			return
		}
		if err == nil {
			r.stored(task)
			continue
		}
		if errors.Is(err, errSpoolGone) {
			// Retrying cannot bring the file back, and every upload
			// behind it would wait forever: count it lost and go on.
			r.lost(task, err)
			continue
		}
		wait := r.failed(task, err)
		select {
		case <-time.After(wait):
		case <-r.ctx.Done():
			return
		}
	}
}

// nextTask picks the next upload; the caller holds mu. A run's playlist
// goes first once none of its objects waits (so it lists them all, and is
// written once after a batch when uploads lag); otherwise the oldest object.
func (r *Recorder) nextTask() *uploadTask {
	if rs := r.nextPlaylist(); rs != nil {
		var listed []segRecord
		for _, s := range rs.segs {
			if s.stored {
				listed = append(listed, s)
			}
		}
		final := rs.ended && len(listed) == len(rs.segs)
		body, err := renderRunPlaylist(listed, final)
		if err != nil {
			return nil // cannot happen: nextPlaylist checked for a stored segment
		}
		return &uploadTask{rs: rs, playlist: body, version: rs.version, final: final}
	}
	if len(r.up) > 0 {
		return &uploadTask{item: r.up[0]}
	}
	return nil
}

// nextPlaylist returns a run whose playlist must be (re)written now, in a
// stable order; the caller holds mu. Ended runs with nothing to list are
// forgotten here.
func (r *Recorder) nextPlaylist() *runState {
	var best *runState
	for k, rs := range r.runs {
		if !rs.dirty || rs.queued > 0 {
			continue
		}
		if !hasStored(rs) {
			rs.dirty = false
			if rs.ended {
				r.finishRun(k, rs)
			}
			continue
		}
		if best == nil || rs.stage < best.stage || rs.stage == best.stage && rs.id < best.id {
			best = rs
		}
	}
	return best
}

func hasStored(rs *runState) bool {
	for _, s := range rs.segs {
		if s.stored {
			return true
		}
	}
	return false
}

func (r *Recorder) put(t *uploadTask) error {
	ctx, cancel := context.WithTimeout(r.ctx, putTimeout)
	defer cancel()
	key := t.key()
	if t.item == nil {
		return r.Store.Put(ctx, key, bytes.NewReader(t.playlist), int64(len(t.playlist)), ContentTypeFor(key))
	}
	if t.item.data != nil {
		return r.Store.Put(ctx, key, bytes.NewReader(t.item.data), t.item.size, ContentTypeFor(key))
	}
	if fst, ok := r.Store.(fileStore); ok {
		if _, err := os.Stat(t.item.path); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s", errSpoolGone, t.item.path)
		}
		return fst.PutFile(ctx, key, t.item.path, t.item.size)
	}
	f, err := os.Open(t.item.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", errSpoolGone, t.item.path)
	}
	if err != nil {
		return fmt.Errorf("open spool file: %w", err)
	}
	defer f.Close()
	return r.Store.Put(ctx, key, io.Reader(f), t.item.size, ContentTypeFor(key))
}

// fileStore is a Store that can take a spool file as it is (*DirStore: a
// hard link instead of a second write of the same bytes).
type fileStore interface {
	PutFile(ctx context.Context, key, path string, size int64) error
}

// stored records a successful upload: the spool file goes, the run's
// playlist becomes due, a finished run is forgotten.
func (r *Recorder) stored(t *uploadTask) {
	if t.item != nil && t.item.data == nil {
		if err := r.sp.remove(t.item.path); err != nil {
			// Stored anyway; the file is uploaded again after a restart.
			r.Log.Warn("stored object left in the spool", "key", t.item.key, "error", err)
		} else if t.item.rs == nil {
			r.sp.removeDirs(filepath.Dir(t.item.path))
		}
	}
	now := time.Now()
	r.mu.Lock()
	if o := r.outage; !o.since.IsZero() {
		r.Log.Info("archive storage is back", "down_for", now.Sub(o.since).Round(time.Second).String(),
			"failed_attempts", o.failures, "objects_waiting", len(r.up)+r.countPlaylists())
	}
	r.outage = outage{}
	if it := t.item; it != nil {
		r.up = r.up[1:]
		r.release(it)
		if rs := it.rs; rs != nil {
			rs.queued--
			if it.seg {
				for i := range rs.segs {
					if rs.segs[i].Seq == it.seq {
						rs.segs[i].stored = true
					}
				}
				rs.dirty = true
				rs.version++
			}
		}
		if r.mLag != nil && !it.ready.IsZero() && it.seg {
			r.mLag.Observe(now.Sub(it.ready).Seconds())
		}
	} else if t.version == t.rs.version {
		t.rs.dirty = false
		if t.final {
			r.finishRun(runKey{t.rs.stage, t.rs.id}, t.rs)
		}
	}
	if r.mUploaded != nil {
		r.mUploaded.Inc()
	}
	r.spoolSizeChanged()
	changes := r.warningChanges()
	r.mu.Unlock()
	r.applyWarnings(changes)
	if t.item == nil && r.OnRunStored != nil {
		// Outside mu: the callback re-cuts talks, which reads the bucket.
		r.OnRunStored(stageOfDir(t.rs.stage), t.rs.id)
	}
	r.notify()
}

// errSpoolGone: a spooled object's file has disappeared (deleted by hand,
// a disk repaired by fsck). Its upload can never succeed.
var errSpoolGone = errors.New("spool file is missing")

// lost drops an upload whose spool file is gone: a segment leaves its run
// (the playlist skips it, with a discontinuity where a player needs one) so
// that the run can still be finished, the loss is logged and counted, and
// the queue behind it moves on.
func (r *Recorder) lost(t *uploadTask, err error) {
	it := t.item
	r.Log.Error("a recording's spool file is missing and cannot be uploaded: that segment is lost; check what deletes files in the spool directory",
		"key", it.key, "error", err)
	if r.mLost != nil && it.seg {
		r.mLost.Inc()
	}
	r.mu.Lock()
	r.up = r.up[1:]
	r.release(it)
	if rs := it.rs; rs != nil {
		rs.queued--
		if it.seg {
			rs.segs = slices.DeleteFunc(rs.segs, func(s segRecord) bool { return s.Seq == it.seq })
			rs.dirty = true
			rs.version++
		}
	}
	r.spoolSizeChanged()
	changes := r.warningChanges()
	r.mu.Unlock()
	r.applyWarnings(changes)
	r.notify()
}

// release forgets the bytes of an object that left the upload queue; the
// caller holds mu.
func (r *Recorder) release(it *upItem) {
	if it.data != nil {
		r.memBytes -= it.size
		it.data = nil
	} else {
		r.spoolBytes -= it.size
	}
}

// countPlaylists counts runs whose playlist is due; the caller holds mu.
func (r *Recorder) countPlaylists() int {
	n := 0
	for _, rs := range r.runs {
		if rs.dirty {
			n++
		}
	}
	return n
}

// finishRun forgets a run whose final playlist is stored and removes its
// spool directory; the caller holds mu.
func (r *Recorder) finishRun(k runKey, rs *runState) {
	delete(r.runs, k)
	dir := r.sp.path(rs.prefix() + runLogName)
	if err := r.sp.remove(dir); err != nil {
		r.Log.Warn("run log left in the spool", "stage", rs.stage, "run", rs.id, "error", err)
	}
	r.sp.removeDirs(filepath.Dir(dir))
}

// failed records a failed attempt, logs the first failure and then at most
// once a minute, and returns how long to wait before the next attempt.
func (r *Recorder) failed(t *uploadTask, err error) time.Duration {
	now := time.Now()
	r.mu.Lock()
	o := &r.outage
	first := o.since.IsZero()
	if first {
		o.since = now
	}
	o.failures++
	n := o.failures
	if first || now.Sub(o.lastLog) >= outageLogEvery {
		o.lastLog = now
		msg := "archive upload failed: recordings wait in the local spool and the upload is retried; check the bucket and its credentials"
		if !first {
			msg = "archive uploads still failing"
		}
		r.Log.Error(msg, "key", t.key(), "error", err, "down_for", now.Sub(o.since).Round(time.Second).String(),
			"attempts", n, "objects_waiting", len(r.up)+r.countPlaylists(), "spool_bytes", r.spoolBytes)
	}
	changes := r.warningChanges()
	r.mu.Unlock()
	r.applyWarnings(changes)
	if r.mErrors != nil {
		r.mErrors.Inc()
	}
	return backoff(r.MinBackoff, r.MaxBackoff, n)
}

// backoff is min doubled for every failure after the first, capped at max.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// spoolSizeChanged updates the gauge and the nearly-full state, logging
// each change of state once; the caller holds mu.
func (r *Recorder) spoolSizeChanged() {
	if r.mSpool != nil {
		r.mSpool.Set(float64(r.spoolBytes))
	}
	full := r.spoolBytes > 0 && r.spoolBytes*10 >= r.MaxSpool*9
	if full == r.full {
		return
	}
	r.full = full
	if full {
		r.Log.Error("archive spool nearly full: uploads are not keeping up; check the bucket, or free disk space for the spool",
			"spool", r.SpoolDir, "bytes", r.spoolBytes, "max", r.MaxSpool)
	} else {
		r.Log.Info("archive spool below 90 % again", "bytes", r.spoolBytes, "max", r.MaxSpool)
	}
}

type warningChange struct {
	stage string
	w     stream.Warning
}

// warningChanges works out the "spool" warning of every stage and returns
// those that changed; the caller holds mu and applies them after unlocking.
func (r *Recorder) warningChanges() []warningChange {
	if r.Warnings == nil {
		return nil
	}
	w := r.diskWarningCode()
	switch {
	case !w.IsZero():
	case r.full:
		w = stream.Warn("archive.spool_full")
	case !r.outage.since.IsZero():
		w = stream.Warn("archive.upload_failing")
	case len(r.up) > 0 && !r.up[0].ready.IsZero() && time.Since(r.up[0].ready) > lagWarning:
		w = stream.Warn("archive.upload_lag")
	}
	want := map[string]stream.Warning{}
	for _, rs := range r.runs {
		want[stageOfDir(rs.stage)] = w
	}
	for stage := range r.warned {
		if _, ok := want[stage]; !ok {
			want[stage] = stream.Warning{}
		}
	}
	var out []warningChange
	for stage, m := range want {
		if r.warned[stage].Equal(m) {
			continue
		}
		out = append(out, warningChange{stage, m})
		if m.IsZero() {
			delete(r.warned, stage)
		} else {
			r.warned[stage] = m
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].stage < out[j].stage })
	return out
}

func (r *Recorder) applyWarnings(changes []warningChange) {
	for _, c := range changes {
		r.Warnings.SetWarning(c.stage, "spool", c.w)
	}
}
