package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/hls"
	"github.com/salon/salon/ingest/stream"
)

// warningSetter is the part of *stream.Registry that shows stage warnings
// (a zero Warning clears one).
type warningSetter interface {
	SetWarning(stage, key string, w stream.Warning)
}

// pathDir is the directory below stages/ that holds a publish path's runs:
// the stage's own for its source (the layout before renditions, unchanged),
// stages/{stage}/{rendition}/ for a rendition. A rendition's name (lowercase
// a-z 0-9 -) never looks like a run's (20190421T013000Z), so the two kinds of
// directory below stages/{stage}/ cannot be confused.
func pathDir(stage, rendition string) string {
	if rendition == "" {
		return stage
	}
	return stage + "/" + rendition
}

// stageOfDir is the stage of a pathDir.
func stageOfDir(dir string) string {
	stage, _, _ := strings.Cut(dir, "/")
	return stage
}

// Recorder is the reader of the live segments that makes sure no recorded
// second is lost, whatever the bucket does. It is the hls.Manager's
// SegmentSink: every segment (and its init segment) is written durably to
// the spool on local disk, then one uploader moves the spooled objects to
// the Store in order (per run: init before segments, segments in seq order,
// the run's playlist after them), retrying each forever with back-off and
// deleting a spool file only once its object is stored. What a crash or an
// outage leaves in the spool is uploaded by the next Initialize.
//
// Bucket layout (contract): stages/{stage}/{run}/init-N.mp4,
// stages/{stage}/{run}/{seq}.m4s and stages/{stage}/{run}/index.m3u8 for a
// stage's source; the same below stages/{stage}/{rendition}/ for each of its
// renditions (pathDir). Inside the recorder a run's "stage" is that pathDir.
//
// Concurrency: SegmentReady and RunEnded only queue work (under qmu) for the
// spool goroutine; spoolMu serializes spool writes so that the synchronous
// fallback keeps their order. mu guards the runs, the upload queue and the
// counters shared by the spool goroutine, the uploader goroutine and the
// public methods.
type Recorder struct {
	// Store is where recordings end up (required).
	Store Store
	// SpoolDir is the local directory segments wait in until they are
	// stored (required, e.g. DATA/spool). It survives restarts.
	SpoolDir string
	// MaxSpool is the spool size, in bytes, the disk is expected to hold
	// (default 20 GB). At 90 % the recorder logs an error and shows a stage
	// warning; it keeps writing beyond it, since a lost segment is worse
	// than a full disk warning.
	MaxSpool int64
	// Warnings, when set, shows a "spool" warning per stage while uploads
	// fail or lag, or the spool is nearly full.
	Warnings warningSetter
	// Metrics, when set, receives the recorder's metrics.
	Metrics prometheus.Registerer
	Log     *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between upload attempts
	// (defaults 500 ms and 30 s); it doubles on every failure.
	MinBackoff, MaxBackoff time.Duration
	// CloseTimeout bounds how long Close keeps uploading (default 10 s).
	CloseTimeout time.Duration
	// MaxMemory bounds the segments held in memory when the spool disk
	// refuses writes (full, failing), in bytes (default 256 MiB: over 8
	// minutes of a 4 Mbit/s stream). Beyond it, segments are lost.
	MaxMemory int64
	// MinFree is the free space of the spool disk, in bytes, below which
	// the stages get a warning and Problems reports it (default 1 GiB).
	MinFree int64
	// FreeSpace reads the free bytes of the disk holding dir (default: the
	// operating system's statfs; tests replace it).
	FreeSpace func(dir string) (int64, error)

	// OnRunStored, when set, is called on the uploader goroutine after a
	// run's playlist was stored in the bucket (the talk library re-cuts the
	// live talks of that stage). It must not call back into the Recorder.
	OnRunStored func(stage, run string)

	sp spool

	qmu      sync.Mutex
	queue    []job
	inFlight int // jobs taken from queue, being spooled
	qWake    chan struct{}
	spoolMu  sync.Mutex
	stopping bool        // under qmu: Close has begun, jobs are spooled synchronously
	closed   atomic.Bool // Close was called

	mu          sync.Mutex
	runs        map[runKey]*runState
	up          []*upItem // upload queue, in upload order
	spoolBytes  int64
	changed     chan struct{} // closed and replaced on progress (Flush waits on it)
	upWake      chan struct{}
	outage      outage
	full        bool
	warned      map[string]stream.Warning // stage → spool warning shown
	memBytes    int64                     // held in memory: the spool disk refused them
	diskFailing bool                      // the last spool write failed
	lowDisk     bool                      // free space below MinFree
	free        int64                     // free bytes at the last check

	ctx       context.Context
	cancel    context.CancelFunc
	spoolStop context.CancelFunc
	spoolDone chan struct{}
	wg        sync.WaitGroup

	mLag      prometheus.Histogram
	mSpool    prometheus.Gauge
	mErrors   prometheus.Counter
	mUploaded prometheus.Counter
	mLost     prometheus.Counter
	mFree     prometheus.Gauge
}

// queueCap is how many segments may wait for the spool goroutine before
// SegmentReady writes synchronously (a few minutes of segments of a few
// stages: reached only when the spool disk stalls).
const queueCap = 256

// lagWarning is how long the oldest spooled object may wait before the
// stages get a "spool" warning although uploads succeed.
const lagWarning = 30 * time.Second

type runKey struct{ stage, run string }

// runState is one run as the recorder knows it.
type runState struct {
	stage, id string
	segs      []segRecord // sorted by seq
	inits     map[string]bool
	ended     bool
	queued    int  // objects of the run in the upload queue
	dirty     bool // the stored playlist is out of date
	version   int  // increases on every change of what the playlist shows
}

func (rs *runState) prefix() string { return "stages/" + rs.stage + "/" + rs.id + "/" }

// job is one SegmentReady or RunEnded call waiting for the spool goroutine.
type job struct {
	seg   *hls.Segment // nil: the run ended
	stage string
	run   string
	ready time.Time
}

// upItem is one spooled object waiting for upload.
type upItem struct {
	key, path string // path is "" for an object held in memory
	data      []byte // the object, when the spool disk refused it
	size      int64
	rs        *runState // nil for a file outside any known run
	seg       bool
	seq       uint64
	ready     time.Time // zero for objects recovered from a previous process
}

// Initialize fills defaults, validates, recovers what a previous process
// left in the spool and starts the spool and upload goroutines.
func (r *Recorder) Initialize() error {
	if r.Store == nil {
		return errors.New("recorder: no Store given")
	}
	if r.SpoolDir == "" {
		return errors.New("recorder: no spool directory given")
	}
	if r.MaxSpool == 0 {
		r.MaxSpool = 20 << 30
	}
	if r.MinBackoff == 0 {
		r.MinBackoff = 500 * time.Millisecond
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = 30 * time.Second
	}
	if r.CloseTimeout == 0 {
		r.CloseTimeout = 10 * time.Second
	}
	if r.MaxMemory == 0 {
		r.MaxMemory = 256 << 20
	}
	if r.MinFree == 0 {
		r.MinFree = 1 << 30
	}
	if r.FreeSpace == nil {
		r.FreeSpace = diskFree
	}
	if r.MaxSpool < 0 || r.MinBackoff < 0 || r.MaxBackoff < r.MinBackoff {
		return fmt.Errorf("recorder: invalid limits (max spool %d, back-off %s…%s)", r.MaxSpool, r.MinBackoff, r.MaxBackoff)
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	r.sp = spool{dir: r.SpoolDir}
	r.runs = map[runKey]*runState{}
	r.warned = map[string]stream.Warning{}
	r.changed = make(chan struct{})
	r.upWake = make(chan struct{}, 1)
	r.qWake = make(chan struct{}, 1)
	if err := r.sp.ensureDir(r.SpoolDir); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	if err := r.registerMetrics(); err != nil {
		return err
	}
	if err := r.recover(); err != nil {
		return err
	}

	r.ctx, r.cancel = context.WithCancel(context.Background())
	var spoolCtx context.Context
	spoolCtx, r.spoolStop = context.WithCancel(context.Background())
	r.spoolDone = make(chan struct{})
	go r.spoolLoop(spoolCtx)
	r.wg.Add(2)
	go r.uploadLoop()
	go r.diskLoop()
	return nil
}

func (r *Recorder) registerMetrics() error {
	if r.Metrics == nil {
		return nil
	}
	r.mLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "salon_archive_upload_lag_seconds",
		Help:    "Time from a segment being ready to its object being stored in the archive.",
		Buckets: prometheus.ExponentialBucketsRange(0.001, 600, 30),
	})
	r.mSpool = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "salon_archive_spool_bytes",
		Help: "Bytes of recordings in the local spool, waiting to be stored in the archive.",
	})
	r.mErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "salon_archive_upload_errors_total",
		Help: "Failed attempts to store an object in the archive (each is retried).",
	})
	r.mUploaded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "salon_archive_uploaded_total",
		Help: "Objects stored in the archive by the recorder.",
	})
	r.mLost = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "salon_archive_segments_lost_total",
		Help: "Recorded segments that could not be kept (spool file gone or not writable): seconds missing from replays.",
	})
	r.mFree = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "salon_archive_spool_free_bytes",
		Help: "Free space on the spool's disk: recordings wait there while the bucket is down.",
	})
	for _, c := range []prometheus.Collector{r.mLag, r.mSpool, r.mErrors, r.mUploaded, r.mLost, r.mFree} {
		if err := r.Metrics.Register(c); err != nil {
			return fmt.Errorf("register archive metrics: %w (is a second Recorder using the same registry?)", err)
		}
	}
	return nil
}

// SegmentReady queues a finished segment for the spool. It never waits for
// the bucket; if the spool goroutine is so far behind that its queue is full
// (a stalled disk), it writes the segment itself rather than drop it.
func (r *Recorder) SegmentReady(seg *hls.Segment) {
	r.submit(job{seg: seg, stage: pathDir(seg.Stage, seg.Rendition), run: seg.Run, ready: time.Now()})
}

// RunEnded queues the end of a run of a stage's source (rendition "") or of
// one of its renditions: once its segments are stored, its playlist becomes
// VOD with EXT-X-ENDLIST.
func (r *Recorder) RunEnded(stage, rendition, run string) {
	r.submit(job{stage: pathDir(stage, rendition), run: run, ready: time.Now()})
}

// notify wakes the uploader and every Flush waiting for progress.
func (r *Recorder) notify() {
	wake(r.upWake)
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Pending returns the media segments not yet stored (queued or spooled) and
// the bytes they and the other spooled objects take.
func (r *Recorder) Pending() (segments int, bytes int64) {
	r.qmu.Lock()
	for _, j := range r.queue {
		if j.seg != nil {
			segments++
			bytes += int64(len(j.seg.Data))
		}
	}
	r.qmu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range r.up {
		if it.seg {
			segments++
		}
	}
	return segments, bytes + r.spoolBytes
}

// Flush waits until everything handed to the recorder so far is stored,
// playlists included (and whatever arrives meanwhile: it waits for the
// recorder to be idle). It returns ctx's error, with what is still pending,
// when ctx ends first.
func (r *Recorder) Flush(ctx context.Context) error {
	for {
		r.qmu.Lock()
		busy := len(r.queue) > 0 || r.inFlight > 0
		r.qmu.Unlock()
		r.mu.Lock()
		ch := r.changed
		idle := !busy && len(r.up) == 0 && r.nextPlaylist() == nil
		r.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			segs, b := r.Pending()
			return fmt.Errorf("archive flush: %d segments (%d bytes) not stored yet: %w", segs, b, ctx.Err())
		}
	}
}

// Close finishes writing the spool, keeps uploading for at most
// CloseTimeout and stops. What is not stored stays in the spool for the
// next Initialize. Segments handed over after Close are written to the
// spool synchronously.
func (r *Recorder) Close() {
	if r.cancel == nil || r.closed.Swap(true) {
		return
	}
	r.qmu.Lock()
	r.stopping = true
	r.qmu.Unlock()
	r.spoolStop()
	<-r.spoolDone
	ctx, cancel := context.WithTimeout(context.Background(), r.CloseTimeout)
	err := r.Flush(ctx)
	cancel()
	if err != nil {
		segs, b := r.Pending()
		r.Log.Warn("archive uploads unfinished at shutdown: they stay in the spool and are uploaded at the next start",
			"segments", segs, "bytes", b, "spool", r.SpoolDir)
	}
	r.cancel()
	r.wg.Wait()
}

// playlistKey is the key of a run's playlist.
func playlistKey(rs *runState) string { return path.Join(rs.prefix(), hls.PlaylistName) }

// RecorderHealth is the recorder's state as the organiser console shows it.
type RecorderHealth struct {
	// SpoolBytes is what waits in the local spool; MaxSpool the size the
	// disk is expected to hold.
	SpoolBytes int64 `json:"spool_bytes"`
	MaxSpool   int64 `json:"spool_max"`
	// PendingSegments are media segments not stored in the bucket yet.
	PendingSegments int `json:"pending_segments"`
	// UploadLag is how long the oldest object waiting for upload has
	// waited, in seconds (0 when nothing waits).
	UploadLag float64 `json:"upload_lag"`
	// BucketReachable is false while uploads fail; FailingSince is the
	// first failure of the outage.
	BucketReachable bool       `json:"bucket_reachable"`
	FailingSince    *time.Time `json:"failing_since,omitempty"`
	Failures        int        `json:"failures,omitempty"`
}

// Health reports the spool, the upload queue and whether the bucket answers.
func (r *Recorder) Health() RecorderHealth {
	segs, bytes := r.Pending()
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	h := RecorderHealth{SpoolBytes: bytes, MaxSpool: r.MaxSpool, PendingSegments: segs, BucketReachable: r.outage.since.IsZero()}
	if len(r.up) > 0 && !r.up[0].ready.IsZero() {
		h.UploadLag = now.Sub(r.up[0].ready).Seconds()
	}
	if !h.BucketReachable {
		since := r.outage.since.UTC()
		h.FailingSince, h.Failures = &since, r.outage.failures
	}
	return h
}
