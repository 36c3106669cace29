package archive

import (
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/salon/salon/hls"
)

func recDirStore(t testing.TB) *DirStore {
	t.Helper()
	s := &DirStore{Root: filepath.Join(t.TempDir(), "archive")}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRecorder_SegmentReady(t *testing.T) {
	md := makeMedia(t, 6, "160x120")
	other := makeMedia(t, 2, "176x144") // new codec parameters
	store := recDirStore(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	reg := prometheus.NewRegistry()
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir, Metrics: reg})

	segs := md.segments("main", "20260301T100000Z", 17, "init-0.mp4", recT0)
	for _, s := range segs {
		r.SegmentReady(s)
	}
	recFlush(t, r)
	pl := checkRun(t, store, segs)
	if pl.PlaylistType != "EVENT" || pl.EndList {
		t.Errorf("open run: playlist type %q, endlist %v; want EVENT without ENDLIST", pl.PlaylistType, pl.EndList)
	}

	r.RunEnded("main", "", "20260301T100000Z")
	recFlush(t, r)
	pl = checkRun(t, store, segs)
	if pl.PlaylistType != "VOD" || !pl.EndList || pl.MediaSequence != 17 || pl.Version != 7 {
		t.Errorf("ended run: type %q endlist %v sequence %d version %d", pl.PlaylistType, pl.EndList, pl.MediaSequence, pl.Version)
	}
	var want float64
	for _, d := range md.durs {
		want += d.Seconds()
	}
	got := probeDuration(t, filepath.Join(store.Root, "stages/main/20260301T100000Z/index.m3u8"))
	if math.Abs(got-want) > 0.2 {
		t.Errorf("ffprobe reads %.3fs from the run playlist, want %.3fs", got, want)
	}

	// A run whose init segment changes gets a discontinuity and a new map.
	run2 := append(md.segments("main", "20260301T110000Z", 23, "init-1.mp4", recT0.Add(time.Hour)),
		other.segments("main", "20260301T110000Z", 29, "init-2.mp4", recT0.Add(time.Hour+6*time.Second))...)
	for _, s := range run2 {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", "20260301T110000Z")
	r.RunEnded("main", "", "20260301T120000Z") // a run without segments leaves nothing
	recFlush(t, r)
	pl = checkRun(t, store, run2)
	if maps := pl.MapURIs(); strings.Join(maps, ",") != "init-1.mp4,init-2.mp4" || !pl.Segments[6].Discontinuity || !pl.EndList {
		t.Errorf("codec change: maps %v, discontinuity %v, endlist %v", maps, pl.Segments[6].Discontinuity, pl.EndList)
	}
	if _, err := store.List(context.Background(), "stages/main/20260301T120000Z/"); err != nil {
		t.Fatal(err)
	}

	if n, b := r.Pending(); n != 0 || b != 0 {
		t.Errorf("Pending() = %d, %d after Flush", n, b)
	}
	if files := spoolFiles(t, spoolDir); len(files) != 0 {
		t.Errorf("spool not empty: %v", files)
	}
	objects := len(segs) + 1 + len(run2) + 2 // segments, inits
	if got := counterValue(t, r.mUploaded); got < float64(objects) {
		t.Errorf("uploaded_total %v, want at least %d", got, objects)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lagCount uint64
	for _, mf := range mfs {
		if mf.GetName() == "salon_archive_upload_lag_seconds" {
			lagCount = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if lagCount != uint64(len(segs)+len(run2)) {
		t.Errorf("lag histogram counted %d segments, want %d", lagCount, len(segs)+len(run2))
	}
}

func TestRecorder_storeDown(t *testing.T) {
	md := makeMedia(t, 5, "160x120")
	const failures = 7
	store := newFlakyStore(func(n int) bool { return n <= failures })
	var warn recWarnings
	var logs recLogs
	r := startRecorder(t, &Recorder{
		Store: store, SpoolDir: t.TempDir(), Warnings: &warn, Log: logs.Logger(),
		Metrics: prometheus.NewRegistry(), MinBackoff: 2 * time.Millisecond, MaxBackoff: 16 * time.Millisecond,
	})
	segs := md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0)
	for _, s := range segs {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", "20260301T100000Z")
	recFlush(t, r)
	pl := checkRun(t, store, segs)
	if !pl.EndList {
		t.Error("playlist not ended")
	}

	if got := counterValue(t, r.mErrors); got != failures {
		t.Errorf("upload_errors_total %v, want %d", got, failures)
	}
	store.mu.Lock()
	attempts := append([]time.Time(nil), store.attempts...)
	store.mu.Unlock()
	if len(attempts) < failures+len(segs)+2 {
		t.Errorf("%d Put attempts, want at least %d failed and %d stored", len(attempts), failures, len(segs)+2)
	}
	// The wait before each retry is at least the back-off: doubling from
	// MinBackoff up to MaxBackoff.
	for i := 1; i <= failures; i++ {
		want := backoff(2*time.Millisecond, 16*time.Millisecond, i)
		if gap := attempts[i].Sub(attempts[i-1]); gap < want {
			t.Errorf("retry %d after %s, want at least %s", i, gap, want)
		}
	}
	last, calls := warn.get("main/spool")
	if last != "" || len(calls) != 2 || !strings.HasSuffix(calls[0], "=archive.upload_failing") {
		t.Errorf("spool recWarnings: %q (last %q), want set once while failing, then cleared", calls, last)
	}
	out := logs.String()
	if n := strings.Count(out, "archive upload failed"); n != 1 {
		t.Errorf("first failure logged %d times:\n%s", n, out)
	}
	if n := strings.Count(out, "archive storage is back"); n != 1 {
		t.Errorf("recovery logged %d times:\n%s", n, out)
	}
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 500 * time.Millisecond}, {2, time.Second}, {3, 2 * time.Second}, {7, 30 * time.Second}, {1000, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(500*time.Millisecond, 30*time.Second, tt.failures); got != tt.want {
			t.Errorf("backoff after %d failures = %s, want %s", tt.failures, got, tt.want)
		}
	}
}

func TestRecorder_spoolFull(t *testing.T) {
	md := makeMedia(t, 4, "160x120")
	store := newFlakyStore(func(int) bool { return true })
	var warn recWarnings
	var logs recLogs
	var total int64
	for _, b := range md.segs {
		total += int64(len(b))
	}
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: t.TempDir(), Warnings: &warn, Log: logs.Logger(), MaxSpool: total})
	for _, s := range md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0) {
		r.SegmentReady(s)
	}
	recWaitFor(t, "segments spooled", func() bool { n, _ := r.Pending(); return n == len(md.segs) })
	recWaitFor(t, "spool warning", func() bool { last, _ := warn.get("main/spool"); return last == "archive.spool_full" })
	if n := strings.Count(logs.String(), "archive spool nearly full"); n != 1 {
		t.Errorf("nearly full logged %d times:\n%s", n, logs.String())
	}

	store.setFail(nil)
	recFlush(t, r)
	if last, _ := warn.get("main/spool"); last != "" {
		t.Errorf("spool warning %q after the spool drained", last)
	}
	if n := strings.Count(logs.String(), "archive spool below 90 % again"); n != 1 {
		t.Errorf("recovery from nearly full logged %d times", n)
	}
}

// Close with the bucket down returns (after CloseTimeout) and leaves the
// spool for the next start, which stores everything and closes the run.
func TestRecorder_Close(t *testing.T) {
	md := makeMedia(t, 3, "160x120")
	spoolDir := t.TempDir()
	down := newFlakyStore(func(int) bool { return true })
	r := &Recorder{Store: down, SpoolDir: spoolDir, CloseTimeout: 100 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	segs := md.segments("main", "20260301T100000Z", 4, "init-0.mp4", recT0)
	for _, s := range segs[:len(segs)-1] {
		r.SegmentReady(s)
	}
	r.Close()
	r.Close()
	r.SegmentReady(segs[len(segs)-1]) // after Close: spooled synchronously
	if files := spoolFiles(t, spoolDir); len(files) != len(segs)+2 {
		t.Fatalf("spool holds %v, want %d segments, the init and the run log", files, len(segs))
	}

	up := newFlakyStore(nil)
	r2 := startRecorder(t, &Recorder{Store: up, SpoolDir: spoolDir})
	recFlush(t, r2)
	if pl := checkRun(t, up, segs); !pl.EndList {
		t.Error("run left open by Close not closed after restart")
	}
	if files := spoolFiles(t, spoolDir); len(files) != 0 {
		t.Errorf("spool not empty: %v", files)
	}
}

// TestRecorder_crash kills a process that is recording while the bucket is
// down (SIGKILL: no Close, nothing flushed beyond what SegmentReady made
// durable), then starts a recorder on its spool.
func TestRecorder_crash(t *testing.T) {
	if os.Getenv("SALON_TEST_CRASH_SPOOL") != "" {
		t.Skip("in the child process")
	}
	requireFFmpegTools(t)
	mediaDir := t.TempDir()
	encodeMedia(t, mediaDir, 4, "160x120")
	md := loadMedia(t, mediaDir)
	spoolDir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestRecorderCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "SALON_TEST_CRASH_SPOOL="+spoolDir, "SALON_TEST_CRASH_MEDIA="+mediaDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := waitLine(stdout, "SPOOLED"); err != nil {
		t.Fatalf("child: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// A write the crash interrupted.
	stray := filepath.Join(spoolDir, "stages/main/20260301T100000Z/.9.m4s.123.tmp")
	if err := os.WriteFile(stray, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}

	dir := recDirStore(t)
	store := &orderStore{Store: dir}
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir})
	recFlush(t, r)
	segs := md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0)
	pl := checkRun(t, dir, segs)
	// Uploaded in order: the init segment, the media segments by seq, then
	// the playlist that lists them.
	want := []string{"stages/main/20260301T100000Z/init-0.mp4"}
	for _, s := range segs {
		want = append(want, "stages/main/20260301T100000Z/"+s.Name)
	}
	want = append(want, "stages/main/20260301T100000Z/index.m3u8")
	if got := store.keys(); !slices.Equal(got, want) {
		t.Errorf("recovered uploads in the order\n%v\nwant\n%v", got, want)
	}
	if !pl.EndList || pl.PlaylistType != "VOD" {
		t.Errorf("run open at the crash: type %q endlist %v, want closed", pl.PlaylistType, pl.EndList)
	}
	if files := spoolFiles(t, spoolDir); len(files) != 0 {
		t.Errorf("spool not empty: %v", files)
	}
}

// orderStore records the keys put, in order.
type orderStore struct {
	Store
	mu  sync.Mutex
	put []string
}

func (s *orderStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := s.Store.Put(ctx, key, r, size, contentType); err != nil {
		return err
	}
	s.mu.Lock()
	s.put = append(s.put, key)
	s.mu.Unlock()
	return nil
}

func (s *orderStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.put)
}

// TestRecorderCrashChild is the process TestRecorder_crash kills.
func TestRecorderCrashChild(t *testing.T) {
	spoolDir := os.Getenv("SALON_TEST_CRASH_SPOOL")
	if spoolDir == "" {
		t.Skip("only run by TestRecorder_crash")
	}
	md := loadMedia(t, os.Getenv("SALON_TEST_CRASH_MEDIA"))
	r := &Recorder{Store: newFlakyStore(func(int) bool { return true }), SpoolDir: spoolDir,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	for _, s := range md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0) {
		r.SegmentReady(s)
	}
	recWaitFor(t, "segments spooled", func() bool {
		r.qmu.Lock()
		defer r.qmu.Unlock()
		return len(r.queue) == 0 && r.inFlight == 0
	})
	os.Stdout.WriteString("SPOOLED\n")
	time.Sleep(time.Minute) // killed before this ends
	t.Fatal("not killed")
}

// When the spool goroutine cannot keep up, SegmentReady writes the segment
// itself, after what is queued, rather than drop it.
func TestRecorder_queueFull(t *testing.T) {
	store := newFlakyStore(nil)
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: t.TempDir()})
	var segs []*hls.Segment
	for i := range queueCap + 3 {
		segs = append(segs, &hls.Segment{
			Stage: "main", Run: "20260301T100000Z", Seq: uint64(i), Name: strconv.Itoa(i) + ".m4s",
			InitName: "init-0.mp4", Init: []byte("init"), Data: []byte("segment " + strconv.Itoa(i)),
			Start: recT0.Add(time.Duration(i) * time.Second), Duration: time.Second,
		})
	}
	r.spoolMu.Lock() // a stalled spool disk
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, s := range segs {
			r.SegmentReady(s)
		}
		r.RunEnded("main", "", "20260301T100000Z")
	}()
	recWaitFor(t, "queue full", func() bool {
		r.qmu.Lock()
		defer r.qmu.Unlock()
		return len(r.queue) == queueCap
	})
	r.spoolMu.Unlock()
	<-done
	recFlush(t, r)
	if pl := checkRun(t, store, segs); !pl.EndList {
		t.Error("run not ended")
	}
}
