package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// BenchmarkSlidesUpload uploads a 500 MB deck (a file in a temp dir,
// generated once, never kept) to a real MinIO twice per iteration: through
// salon's HTTP API (a salon child process, multipart/form-data, as a
// browser sends it) and directly with minio-go's PutObject of the same file.
// It reports both throughputs, their ratio, and salon's peak RSS growth
// during its upload. The two run alternately so that neither always has the
// warmer caches.
//
//	go test -run XXX -bench SlidesUpload -benchtime 3x ./cmd/salon
func BenchmarkSlidesUpload(b *testing.B) {
	mb := newMinioBucket(b)
	const size = 500 << 20
	path := filepath.Join(b.TempDir(), "deck.pdf")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, newDeck(size)); err != nil {
		b.Fatal(err)
	}
	f.Close()

	c := startChildSalon(b, mb, "-max-upload-mb", "600")
	if code, m := apiURL(b, c.base+"/api/talks", c.adminToken, "POST", `{"id":"bench","title":"Bench","stage":"main"}`); code != 201 {
		b.Fatalf("create: %d %v", code, m)
	}
	cli, err := minio.New(mb.endpoint, &minio.Options{Creds: credentials.NewStaticV4(mb.key, mb.secret, "")})
	if err != nil {
		b.Fatal(err)
	}
	var salonCPU time.Duration
	viaSalon := func() (time.Duration, int64) {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		before := vmRSS(b, c.cmd.Process.Pid)
		cpu0 := procCPU(b, c.cmd.Process.Pid)
		rss := sampleRSS(b, c.cmd.Process.Pid)
		start := time.Now()
		code, m, _ := uploadSlides(b, c.base+"/api/talks/bench/slides", c.adminToken, "deck.pdf", f, size, uploadOpts{})
		d := time.Since(start)
		peak := rss.Peak()
		salonCPU = procCPU(b, c.cmd.Process.Pid) - cpu0
		if code != 201 {
			b.Fatalf("upload through salon: %d %v", code, m)
		}
		return d, peak - before
	}
	direct := func() time.Duration {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		start := time.Now()
		if _, err := cli.PutObject(context.Background(), mb.bucket, "direct/deck.pdf", f, size,
			minio.PutObjectOptions{ContentType: "application/pdf"}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	var salonTime, directTime time.Duration
	var growth int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ds, dd time.Duration
		var g int64
		if i%2 == 0 {
			ds, g = viaSalon()
			dd = direct()
		} else {
			dd = direct()
			ds, g = viaSalon()
		}
		salonTime += ds
		directTime += dd
		growth = max(growth, g)
		b.Logf("run %d: salon %.0f MB/s, PutObject %.0f MB/s (%.0f %%), salon RSS +%d MB, salon CPU %s for %s",
			i+1, size/ds.Seconds()/1e6, size/dd.Seconds()/1e6, 100*dd.Seconds()/ds.Seconds(), g>>20,
			salonCPU.Round(10*time.Millisecond), ds.Round(10*time.Millisecond))
	}
	b.StopTimer()
	salonMBs := float64(b.N) * size / salonTime.Seconds() / 1e6
	directMBs := float64(b.N) * size / directTime.Seconds() / 1e6
	b.ReportMetric(salonMBs, "salon-MB/s")
	b.ReportMetric(directMBs, "putobject-MB/s")
	b.ReportMetric(100*salonMBs/directMBs, "ratio-%")
	b.ReportMetric(float64(growth>>20), "peak-rss-growth-MB")
	b.ReportMetric(0, "ns/op")
}

// procCPU is the CPU time (user + system) a process has used.
func procCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}
