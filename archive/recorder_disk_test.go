package archive

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// breakSpool makes every spool write of the stage fail, even for root: the
// stage's spool directory is a file.
func breakSpool(t *testing.T, spoolDir, stage string) (repair func()) {
	t.Helper()
	p := filepath.Join(spoolDir, "stages", stage)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	return func() { os.Remove(p) }
}

// With the bucket down and the spool disk refusing writes (the audit's full
// disk lost 96 s of recording silently), segments are held in memory, the
// stage says so, and nothing is lost when the bucket comes back.
func TestRecorder_diskFullBucketDown(t *testing.T) {
	md := makeMedia(t, 5, "160x120")
	var down atomic.Bool
	down.Store(true)
	store := newFlakyStore(func(int) bool { return down.Load() })
	spoolDir := t.TempDir()
	breakSpool(t, spoolDir, "main")
	var warn recWarnings
	var logs recLogs
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir, Warnings: &warn, Log: logs.Logger(), Metrics: prometheus.NewRegistry()})

	segs := md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0)
	for _, s := range segs {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", "20260301T100000Z")
	recWaitFor(t, "the stage warned that segments are held in memory", func() bool {
		last, _ := warn.get("main/spool")
		return strings.HasPrefix(last, "archive.disk_refuses Held=")
	})
	if p := r.Problems(); len(p) == 0 || !strings.Contains(strings.Join(p, "; "), "refuses writes") {
		t.Errorf("Problems() = %q, want the disk named", p)
	}
	down.Store(false)
	recFlush(t, r)
	pl := checkRun(t, store, segs)
	if !pl.EndList {
		t.Error("run playlist not ended")
	}
	if got := counterValue(t, r.mLost); got != 0 {
		t.Errorf("segments_lost_total = %v, want 0", got)
	}
	r.mu.Lock()
	held := r.memBytes
	r.mu.Unlock()
	if held != 0 {
		t.Errorf("%d bytes still held in memory after every object was stored", held)
	}
	if out := logs.String(); strings.Count(out, "spool disk refuses writes") != 1 {
		t.Errorf("want the disk failure logged once:\n%s", out)
	}
}

// Beyond MaxMemory, segments are lost — counted, logged and shown.
func TestRecorder_diskFullMemoryFull(t *testing.T) {
	md := makeMedia(t, 3, "160x120")
	store := newFlakyStore(func(int) bool { return true })
	spoolDir := t.TempDir()
	breakSpool(t, spoolDir, "main")
	var logs recLogs
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir, Log: logs.Logger(), Metrics: prometheus.NewRegistry(), MaxMemory: 1})
	for _, s := range md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0) {
		r.SegmentReady(s)
	}
	recWaitFor(t, "segments counted lost", func() bool { return counterValue(t, r.mLost) >= 1 })
	if out := logs.String(); !strings.Contains(out, "recording lost") {
		t.Errorf("the loss is not logged:\n%s", out)
	}
}

// A disk with less than MinFree free warns before anything is lost.
func TestRecorder_lowDisk(t *testing.T) {
	md := makeMedia(t, 1, "160x120")
	var free atomic.Int64
	free.Store(100 << 20)
	var warn recWarnings
	r := startRecorder(t, &Recorder{Store: newFlakyStore(nil), SpoolDir: t.TempDir(), Warnings: &warn, Metrics: prometheus.NewRegistry(),
		FreeSpace: func(string) (int64, error) { return free.Load(), nil }})
	for _, s := range md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0) {
		r.SegmentReady(s)
	}
	recFlush(t, r)
	r.checkDisk()
	if last, _ := warn.get("main/spool"); last != "archive.disk_low Free=100" {
		t.Errorf("stage warning %q, want the free space named", last)
	}
	if p := r.Problems(); len(p) != 1 {
		t.Errorf("Problems() = %q, want the low disk", p)
	}
	free.Store(50 << 30)
	r.checkDisk()
	if last, _ := warn.get("main/spool"); last != "" {
		t.Errorf("stage warning %q after space was freed, want none", last)
	}
	if p := r.Problems(); len(p) != 0 {
		t.Errorf("Problems() = %q after space was freed", p)
	}
}

// diskFree reads the real file system.
func TestDiskFree(t *testing.T) {
	n, err := diskFree(t.TempDir())
	if err != nil || n <= 0 {
		t.Fatalf("diskFree = %d, %v", n, err)
	}
}
