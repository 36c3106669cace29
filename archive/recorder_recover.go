package archive

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// recover rebuilds the recorder's state from what a previous process left
// in the spool: every spooled object is queued for upload in order, and
// every run found is closed (a new publish is a new run, so a run open when
// salon stopped cannot continue) and gets its playlist rebuilt from its run
// log. Temporary files of interrupted writes are removed. It runs before
// the goroutines start.
func (r *Recorder) recover() error {
	logs, objects, skipped, err := r.sp.scan()
	if err != nil {
		return fmt.Errorf("recorder: %w; check SpoolDir's permissions", err)
	}
	for _, p := range skipped {
		r.Log.Warn("file in the spool is not an archive key, leaving it alone", "path", p)
	}
	for _, lf := range logs {
		r.recoverRun(lf)
	}

	slices.SortFunc(objects, func(a, b spoolFile) int {
		da, na := path.Split(a.key)
		db, nb := path.Split(b.key)
		ca, sa := objectOrder(na)
		cb, sb := objectOrder(nb)
		return cmp.Or(strings.Compare(da, db), cmp.Compare(ca, cb), cmp.Compare(sa, sb), strings.Compare(na, nb))
	})
	for _, o := range objects {
		dir, name := path.Split(o.key)
		it := &upItem{key: o.key, path: o.path, size: o.size}
		if rs := r.runs[runKeyOf(strings.TrimSuffix(dir, "/"))]; rs != nil {
			it.rs = rs
			rs.queued++
			class, seq := objectOrder(name)
			switch class {
			case 0:
				rs.inits[name] = true
			case 1:
				it.seg, it.seq = true, seq
				if !slices.ContainsFunc(rs.segs, func(s segRecord) bool { return s.Seq == seq }) {
					r.Log.Warn("spooled segment missing from its run log: uploading it, but the run's playlist will not list it",
						"key", o.key)
				}
			}
		}
		r.up = append(r.up, it)
		r.spoolBytes += o.size
	}
	if len(r.up) > 0 || len(r.runs) > 0 {
		r.Log.Info("recovering the archive spool left by the previous run", "objects", len(r.up),
			"bytes", r.spoolBytes, "runs", len(r.runs))
	}
	r.spoolSizeChanged()
	return nil
}

// recoverRun reads one run log back, closes the run and marks the
// segments whose spool file is gone as stored.
func (r *Recorder) recoverRun(lf spoolFile) {
	dir := path.Dir(lf.key)
	k := runKeyOf(dir)
	if k.stage == "" {
		r.Log.Warn("run log outside stages/{stage}/[{rendition}/]{run}/, leaving it alone", "path", lf.path)
		return
	}
	data, err := os.ReadFile(lf.path)
	if err != nil {
		r.Log.Error("cannot read a run log: the run's playlist is not rebuilt", "path", lf.path, "error", err)
		return
	}
	segs, ended, bad := parseRunLog(data)
	if bad > 0 {
		r.Log.Warn("run log has damaged lines, skipping them", "path", lf.path, "lines", bad)
	}
	if !ended {
		r.Log.Info("closing a run left open when salon stopped", "stage", k.stage, "run", k.run, "segments", len(segs))
	}
	if err := r.sp.writePath(lf.path, encodeRunLog(segs, true)); err != nil {
		r.Log.Warn("cannot rewrite a run log", "path", lf.path, "error", err)
	}
	rs := r.run(k.stage, k.run)
	rs.ended, rs.dirty, rs.version = true, true, 1
	for i := range segs {
		_, err := os.Stat(r.sp.path(dir + "/" + segmentName(segs[i].Seq)))
		segs[i].stored = errors.Is(err, fs.ErrNotExist)
		rs.inits[segs[i].Init] = true
	}
	rs.segs = segs
}

// runKeyOf parses "stages/{stage}/{run}" or
// "stages/{stage}/{rendition}/{run}"; the zero runKey when it is neither.
func runKeyOf(dir string) runKey {
	parts := strings.Split(dir, "/")
	switch {
	case len(parts) == 3 && parts[0] == "stages":
		return runKey{parts[1], parts[2]}
	case len(parts) == 4 && parts[0] == "stages":
		return runKey{parts[1] + "/" + parts[2], parts[3]}
	}
	return runKey{}
}

// objectOrder sorts the objects of a run directory: init segments first (by
// number), then media segments by seq, then anything else.
func objectOrder(name string) (class int, n uint64) {
	if validInitName(name) {
		digits := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(name, "init"), "-"), ".mp4")
		n, _ := strconv.ParseUint(digits, 10, 64)
		return 0, n
	}
	if seq, ok := strings.CutSuffix(name, ".m4s"); ok {
		if n, err := strconv.ParseUint(seq, 10, 64); err == nil && segmentName(n) == name {
			return 1, n
		}
	}
	return 2, 0
}
