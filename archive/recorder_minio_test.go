package archive_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
)

// TestRecorder_MinIOOutage stops a real MinIO, records ten segments while it
// is down, starts it again and checks that every object arrived intact.
func TestRecorder_MinIOOutage(t *testing.T) {
	endpoint, user, secret, stop, start := storetest.MinIO(t)
	segs := archive.RecorderTestSegments(t, 10, "main", "20260301T100000Z")
	store := &archive.S3Store{Endpoint: endpoint, Bucket: "recorder", AccessKey: user, SecretKey: secret}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r := &archive.Recorder{Store: store, SpoolDir: t.TempDir(), Metrics: reg}
	archive.RecorderBackoff(r)
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)

	r.SegmentReady(segs[0])
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	for _, s := range segs[1:] {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", "20260301T100000Z")
	// Let the recorder meet the outage before the bucket comes back.
	for uploadErrors(t, reg) == 0 {
		if ctx.Err() != nil {
			t.Fatal("no upload failed while MinIO was stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start()
	fctx, fcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer fcancel()
	if err := r.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if n, b := r.Pending(); n != 0 || b != 0 {
		t.Errorf("Pending() = %d, %d after Flush", n, b)
	}
	if !archive.RecorderCheckRun(t, store, segs) {
		t.Error("run playlist not ended")
	}
}

func uploadErrors(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "salon_archive_upload_errors_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
