package archive_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"
	"testing/iotest"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/slidetest"
	"github.com/salon/salon/archive/storetest"
)

// TestLibrary_SlidesMinIO: on a real MinIO, an upload over the cap (past the
// first 16 MiB multipart part, so that parts were already sent) and an
// upload whose body breaks leave no object, and a good one round-trips.
func TestLibrary_SlidesMinIO(t *testing.T) {
	endpoint, user, secret, _, _ := storetest.MinIO(t)
	ctx := t.Context()
	s := &archive.S3Store{Endpoint: endpoint, Bucket: "slides", AccessKey: user, SecretKey: secret,
		Log: slog.New(slog.DiscardHandler)}
	if err := s.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	l := &archive.Library{Store: s}
	if err := l.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	tk, err := l.Create(ctx, archive.Talk{Title: "Slides on MinIO", Stage: "main"})
	if err != nil {
		t.Fatal(err)
	}
	pdf := slidetest.PDF(2, "minio")
	big := func(n int) io.Reader { return io.MultiReader(bytes.NewReader(pdf), io.LimitReader(zeros{}, int64(n))) }

	if _, err := l.AddSlide(ctx, tk.ID, archive.SlideUpload{Name: "big.pdf", Body: big(40 << 20), MaxSize: 33 << 20}); !errors.Is(err, archive.ErrTooLarge) {
		t.Fatalf("upload over the cap: %v, want ErrTooLarge", err)
	}
	broken := io.MultiReader(big(20<<20), iotest.ErrReader(errors.New("client went away")))
	if _, err := l.AddSlide(ctx, tk.ID, archive.SlideUpload{Name: "broken.pdf", Body: broken}); err == nil {
		t.Fatal("an upload whose body broke succeeded")
	}
	objs, err := s.List(ctx, "talks/"+tk.ID+"/slides/")
	if err != nil || len(objs) != 0 {
		t.Fatalf("slides in the bucket after failed uploads: %v, %v", objs, err)
	}
	// Nothing half-done is left as an incomplete multipart upload either.
	if n := storetest.IncompleteUploads(t, endpoint, user, secret, "slides"); n != 0 {
		t.Fatalf("%d incomplete multipart uploads left", n)
	}

	sl, err := l.AddSlide(ctx, tk.ID, archive.SlideUpload{Name: "ok.pdf", Body: big(17 << 20), MaxSize: 33 << 20})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, archive.SlideKey(tk.ID, sl.Name))
	if err != nil || info.Size != sl.Size || info.ContentType != "application/pdf" {
		t.Fatalf("stored %+v, %v; listed %+v", info, err, sl)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
