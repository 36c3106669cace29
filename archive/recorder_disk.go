package archive

import (
	"fmt"
	"strconv"
	"time"

	"github.com/salon/salon/ingest/stream"
)

// The Recorder when the spool's disk fills up: it watches the free space and
// warns early; when a spool write fails anyway, it holds the segment in
// memory (up to MaxMemory) and uploads it from there, so that a full disk
// loses nothing as long as the bucket comes back before memory runs out.

// diskCheckEvery is how often the spool disk's free space is read.
const diskCheckEvery = 5 * time.Second

// spoolOrHold writes data as the spool file of key. When the disk refuses it,
// data is held in memory instead, if MaxMemory allows; ok is false when the
// object is lost. held is the data to upload from memory, nil when spooled.
func (r *Recorder) spoolOrHold(key string, data []byte, stage, run string) (held []byte, ok bool) {
	err := r.sp.write(key, data)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		if r.diskFailing {
			r.diskFailing = false
			r.Log.Info("the spool disk takes writes again", "spool", r.SpoolDir, "held_in_memory_bytes", r.memBytes)
		}
		return nil, true
	}
	if !r.diskFailing {
		r.diskFailing = true
		r.Log.Error("the spool disk refuses writes (full?): recordings are held in memory until the bucket stores them; free disk space now",
			"spool", r.SpoolDir, "error", err, "memory_limit_bytes", r.MaxMemory)
	}
	if r.memBytes+int64(len(data)) > r.MaxMemory {
		r.Log.Error("recording lost: the spool disk refuses writes and the memory for held segments is full; free disk space and check the bucket",
			"stage", stage, "run", run, "key", key, "held_in_memory_bytes", r.memBytes)
		if r.mLost != nil {
			r.mLost.Inc()
		}
		return nil, false
	}
	r.memBytes += int64(len(data))
	return data, true
}

// diskLoop reads the spool disk's free space every diskCheckEvery until the
// recorder stops.
func (r *Recorder) diskLoop() {
	defer r.wg.Done()
	t := time.NewTicker(diskCheckEvery)
	defer t.Stop()
	for {
		r.checkDisk()
		select {
		case <-t.C:
		case <-r.ctx.Done():
			return
		}
	}
}

// checkDisk reads the free space once, logs a change of state and updates
// the stages' warnings.
func (r *Recorder) checkDisk() {
	free, err := r.FreeSpace(r.SpoolDir)
	if err != nil {
		return // unknown: nothing to warn about (writes are still checked)
	}
	if r.mFree != nil {
		r.mFree.Set(float64(free))
	}
	r.mu.Lock()
	r.free = free
	low := free < r.MinFree
	if low != r.lowDisk {
		r.lowDisk = low
		if low {
			r.Log.Error("the spool disk is nearly full: if the bucket goes down now, recordings will be lost; free disk space",
				"spool", r.SpoolDir, "free_bytes", free, "warn_below_bytes", r.MinFree)
		} else {
			r.Log.Info("the spool disk has room again", "spool", r.SpoolDir, "free_bytes", free)
		}
	}
	changes := r.warningChanges()
	r.mu.Unlock()
	r.applyWarnings(changes)
}

// diskWarning is the stage warning about the spool's disk, or ""; the caller
// holds mu.
func (r *Recorder) diskWarning() string {
	switch {
	case r.diskFailing:
		return fmt.Sprintf("the spool disk refuses writes (full?): %d MB of recordings are held in memory until the bucket stores them; free disk space now", r.memBytes>>20)
	case r.lowDisk:
		return fmt.Sprintf("the spool disk has only %d MB free: free disk space, or recordings will be lost if the bucket goes down", r.free>>20)
	}
	return ""
}

// diskWarningCode is diskWarning as a stage warning (zero for none); the
// caller holds mu.
func (r *Recorder) diskWarningCode() stream.Warning {
	switch {
	case r.diskFailing:
		return stream.Warn("archive.disk_refuses", "Held", strconv.FormatInt(r.memBytes>>20, 10))
	case r.lowDisk:
		return stream.Warn("archive.disk_low", "Free", strconv.FormatInt(r.free>>20, 10))
	}
	return stream.Warning{}
}

// Problems lists what threatens the recordings now, for /healthz: empty
// when all is well.
func (r *Recorder) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	if w := r.diskWarning(); w != "" {
		out = append(out, w)
	}
	if !r.outage.since.IsZero() {
		out = append(out, "archive uploads are failing since "+r.outage.since.UTC().Format(time.RFC3339)+": recordings wait in the local spool")
	}
	if r.full {
		out = append(out, "the archive spool is nearly full")
	}
	return out
}
