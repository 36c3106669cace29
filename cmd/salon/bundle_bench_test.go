package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/salon/salon/archive/storetest"
	"github.com/salon/salon/internal/testkit"
)

// BenchmarkBundle measures /talks/{id}/bundle.zip on a real MinIO against
// plain GetObject calls for the same objects (the run's init segment and
// segments, talk.json), in the same run. The recording is made by ffmpeg
// at the start: SALON_BENCH_BUNDLE_SECONDS (default 40) of 720p noise at
// 60 Mbit/s, about 300 MB. Nothing is committed.
//
//	go test -run XXX -bench Bundle -benchtime 3x -count 3 ./cmd/salon
//
// Both sides set the same byte count (the objects' sizes), so their MB/s
// compare directly; the zip adds its headers and README.txt (a few kB).
func BenchmarkBundle(b *testing.B) {
	secs := 40
	if v, err := strconv.Atoi(os.Getenv("SALON_BENCH_BUNDLE_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	endpoint, key, secret, _, _ := storetest.MinIO(b)
	bucket := "bundle-bench"
	a := testApp(b, func(c *Config) {
		c.Archive = "s3:http://" + endpoint + "/" + bucket
		c.AWSAccessKey, c.AWSSecretKey = key, secret
	})
	run := testkit.MakeHLSRun(b, testkit.HLSRunOptions{Seconds: secs, Size: "1280x720", Bitrate: "60M"})
	putRun(b, a, "main", "bench", "Bench", run)
	ctx := context.Background()
	cli, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(key, secret, "")})
	if err != nil {
		b.Fatal(err)
	}
	var keys []string
	var total int64
	for _, f := range run.Files {
		if f == "index.m3u8" {
			continue
		}
		keys = append(keys, "stages/main/"+run.Name+"/"+f)
	}
	keys = append(keys, "talks/bench/talk.json")
	for _, k := range keys {
		info, err := cli.StatObject(ctx, bucket, k, minio.StatObjectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		total += info.Size
	}
	b.Logf("%d objects, %.1f MB", len(keys), float64(total)/1e6)

	get := func(b *testing.B, path string) {
		resp, err := http.Get(a.httpURL(path))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n < total-1024 {
			b.Fatalf("%s: %d, %d bytes, %v", path, resp.StatusCode, n, err)
		}
	}
	getObjects := func(b *testing.B) {
		for _, k := range keys {
			obj, err := cli.GetObject(ctx, bucket, k, minio.GetObjectOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, obj); err != nil {
				b.Fatal(err)
			}
			obj.Close()
		}
	}
	// Interleaved: on a shared machine the load changes from one second to
	// the next, so each round times the bundle, the same objects with
	// GetObject and the MP4 download back to back, and the ratio is of the
	// sums.
	b.Run("interleaved", func(b *testing.B) {
		var tBundle, tGet, tMP4 time.Duration
		for b.Loop() {
			t0 := time.Now()
			get(b, "/talks/bench/bundle.zip")
			t1 := time.Now()
			getObjects(b)
			t2 := time.Now()
			get(b, "/talks/bench/download.mp4")
			tBundle += t1.Sub(t0)
			tGet += t2.Sub(t1)
			tMP4 += time.Since(t2)
		}
		mbps := func(d time.Duration) float64 { return float64(total) * float64(b.N) / 1e6 / d.Seconds() }
		b.ReportMetric(mbps(tBundle), "bundle-MB/s")
		b.ReportMetric(mbps(tGet), "getobject-MB/s")
		b.ReportMetric(mbps(tMP4), "mp4-MB/s")
		b.ReportMetric(100*tGet.Seconds()/tBundle.Seconds(), "bundle-%-of-getobject")
		b.ReportMetric(100*tGet.Seconds()/tMP4.Seconds(), "mp4-%-of-getobject")
	})
}
