package main

import (
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// maxUploadRSSGrowth is the bound on salon's memory growth during a
// 500 MB upload: the file streams through, it is never held.
const maxUploadRSSGrowth = 64 << 20

// TestSlides_UploadMemory uploads a 500 MB deck to a salon process on a real
// MinIO and reads the process's resident memory throughout: it must grow by
// less than 64 MB. (Memory, not time, is asserted: it does not depend on the
// machine's speed.) Under -race the child is a plain build (childBinary).
func TestSlides_UploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 500 MB upload")
	}
	mb := newMinioBucket(t)
	c := startChildSalon(t, mb, "-max-upload-mb", "600")
	if code, m := apiURL(t, c.base+"/api/talks", c.adminToken, "POST", `{"id":"big","title":"Big deck","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	code, m := apiURL(t, c.base+"/api/talks/big/speaker-link", c.adminToken, "POST", "")
	if code != 201 {
		t.Fatalf("speaker link: %d %v", code, m)
	}
	tok := m["token"].(string)

	const size = 500 << 20
	before := vmRSS(t, c.cmd.Process.Pid)
	rss := sampleRSS(t, c.cmd.Process.Pid)
	start := time.Now()
	code, m, _ = uploadSlides(t, c.base+"/api/talks/big/slides", tok, "big.pdf", newDeck(size), size, uploadOpts{})
	took := time.Since(start)
	peak := rss.Peak()
	if code != 201 || m["size"] != float64(size) {
		t.Fatalf("upload: %d %v; salon's log:\n%s", code, m, c.stderr.String())
	}
	growth := peak - before
	t.Logf("500 MB in %s (%.0f MB/s); salon's RSS %d MB before, peak %d MB: +%d MB",
		took.Round(time.Millisecond), size/took.Seconds()/1e6, before>>20, peak>>20, growth>>20)
	if growth >= maxUploadRSSGrowth {
		t.Fatalf("salon's RSS grew by %d MB during a 500 MB upload; the bound is %d MB", growth>>20, maxUploadRSSGrowth>>20)
	}
	// The object is whole in the bucket.
	cli, err := minio.New(mb.endpoint, &minio.Options{Creds: credentials.NewStaticV4(mb.key, mb.secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cli.StatObject(t.Context(), mb.bucket, "talks/big/slides/big.pdf", minio.StatObjectOptions{})
	if err != nil || info.Size != size {
		t.Fatalf("stored object: %+v, %v", info, err)
	}
}
