package archive

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/hls/hlscheck"
)

// A spool file that disappears while the bucket is down (deleted by hand, a
// disk repaired by fsck) used to fail its upload forever and stall every
// upload behind it. Now that one segment is counted lost, the others are
// stored, and the run's playlist ends with a discontinuity at the gap.
func TestRecorder_spoolFileGone(t *testing.T) {
	md := makeMedia(t, 5, "160x120")
	var down atomic.Bool
	down.Store(true)
	store := newFlakyStore(func(int) bool { return down.Load() })
	spoolDir := t.TempDir()
	var logs recLogs
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir, Log: logs.Logger(), Metrics: prometheus.NewRegistry()})

	segs := md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0)
	for _, s := range segs {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", "20260301T100000Z")
	victim := filepath.Join(spoolDir, "stages", "main", "20260301T100000Z", segs[2].Name)
	recWaitFor(t, "the third segment in the spool", func() bool {
		_, err := os.Stat(victim)
		return err == nil
	})
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	down.Store(false)
	recFlush(t, r)

	body := recGet(t, store, "stages/main/20260301T100000Z/index.m3u8")
	pl, err := hlscheck.CheckMediaPlaylist(body)
	if err != nil {
		t.Fatalf("run playlist: %v\n%s", err, body)
	}
	if !pl.EndList || len(pl.Segments) != len(segs)-1 {
		t.Fatalf("run playlist: %d segments, endlist %v; want %d and ended", len(pl.Segments), pl.EndList, len(segs)-1)
	}
	for i, s := range pl.Segments {
		if s.URI == segs[2].Name {
			t.Errorf("the lost segment is listed")
		}
		if want := i == 2; s.Discontinuity != want {
			t.Errorf("segment %d (%s): discontinuity %v, want %v", i, s.URI, s.Discontinuity, want)
		}
	}
	if got := counterValue(t, r.mLost); got != 1 {
		t.Errorf("segments_lost_total = %v, want 1", got)
	}
	if out := logs.String(); !strings.Contains(out, "segment is lost") {
		t.Errorf("the loss is not logged:\n%s", out)
	}
	if files := spoolFiles(t, spoolDir); len(files) != 0 {
		t.Errorf("spool not empty: %v", files)
	}
}

// A run log that cannot be appended to (a disk error on that one file) must
// not cost the run its playlist: the segments are spooled and uploaded, and
// the run's playlist in the bucket lists every one of them and ends. Only a
// crash before the upload would lose the listing, and the error says so.
func TestRecorder_runLogUnwritable(t *testing.T) {
	md := makeMedia(t, 4, "160x120")
	var down atomic.Bool
	down.Store(true) // the playlist must come from memory, not a re-read of the log
	store := newFlakyStore(func(int) bool { return down.Load() })
	spoolDir := t.TempDir()
	const run = "20260301T110000Z"
	// A directory where the run log should be: every append fails, even as
	// root.
	if err := os.MkdirAll(filepath.Join(spoolDir, "stages", "main", run, runLogName), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs recLogs
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir, Log: logs.Logger(), Metrics: prometheus.NewRegistry()})
	segs := md.segments("main", run, 0, "init-0.mp4", recT0)
	for _, s := range segs {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", run)
	down.Store(false)
	recFlush(t, r)

	body := recGet(t, store, "stages/main/"+run+"/index.m3u8")
	pl, err := hlscheck.CheckMediaPlaylist(body)
	if err != nil {
		t.Fatalf("run playlist: %v\n%s", err, body)
	}
	if !pl.EndList || len(pl.Segments) != len(segs) {
		t.Fatalf("run playlist: %d segments, endlist %v; want %d and ended:\n%s", len(pl.Segments), pl.EndList, len(segs), body)
	}
	for i, s := range pl.Segments {
		if s.URI != segs[i].Name {
			t.Errorf("segment %d is %s, want %s", i, s.URI, segs[i].Name)
		}
		recGet(t, store, "stages/main/"+run+"/"+segs[i].Name)
	}
	if out := logs.String(); !strings.Contains(out, "run log not written") {
		t.Errorf("the failed run log is not logged:\n%s", out)
	}
}
