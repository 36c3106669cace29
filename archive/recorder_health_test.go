package archive

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRecorder_Health(t *testing.T) {
	md := makeMedia(t, 3, "160x120")
	var down atomic.Bool
	down.Store(true)
	store := newFlakyStore(func(int) bool { return down.Load() })
	r := startRecorder(t, &Recorder{
		Store: store, SpoolDir: t.TempDir(), MaxSpool: 1 << 30, Metrics: prometheus.NewRegistry(),
		MinBackoff: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	})
	if h := r.Health(); !h.BucketReachable || h.PendingSegments != 0 || h.SpoolBytes != 0 || h.MaxSpool != 1<<30 {
		t.Fatalf("idle recorder: %+v", h)
	}
	segs := md.segments("main", "20260301T100000Z", 0, "init-0.mp4", recT0)
	for _, s := range segs {
		r.SegmentReady(s)
	}
	var h RecorderHealth
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		h = r.Health()
		// Every segment spooled (the spool goroutine takes them one by one)
		// and the bucket seen failing.
		if !h.BucketReachable && h.SpoolBytes > 0 && h.UploadLag > 0 && h.PendingSegments == len(segs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("while the bucket fails: %+v, want it unreachable with %d segments spooled and a lag", h, len(segs))
		}
	}
	if h.PendingSegments != len(segs) || h.FailingSince == nil || h.Failures < 1 {
		t.Fatalf("while the bucket fails: %+v, want %d pending segments and the outage's start", h, len(segs))
	}
	down.Store(false)
	r.RunEnded("main", "", "20260301T100000Z")
	recFlush(t, r)
	if h := r.Health(); !h.BucketReachable || h.PendingSegments != 0 || h.SpoolBytes != 0 || h.UploadLag != 0 || h.FailingSince != nil {
		t.Fatalf("after the outage: %+v", h)
	}
}
