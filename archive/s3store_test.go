package archive_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
)

// TestS3Store runs the contract on one real MinIO, a fresh bucket per
// subtest (half of them below a prefix).
func TestS3Store(t *testing.T) {
	endpoint, user, secret, stop, start := storetest.MinIO(t)
	var n atomic.Int64
	newStore := func(t *testing.T) archive.Store {
		i := n.Add(1)
		s := &archive.S3Store{
			Endpoint:  endpoint,
			Bucket:    fmt.Sprintf("contract-%d", i),
			AccessKey: user,
			SecretKey: secret,
			Log:       slog.New(slog.NewTextHandler(t.Output(), nil)),
		}
		if i%2 == 0 {
			s.Prefix = "some/prefix/"
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := s.Initialize(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	storetest.Run(t, newStore)

	t.Run("Initialize existing bucket", func(t *testing.T) {
		s := &archive.S3Store{Endpoint: endpoint, Bucket: "contract-1", AccessKey: user, SecretKey: secret}
		if err := s.Initialize(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("prefix isolates", func(t *testing.T) {
		ctx := t.Context()
		inner := &archive.S3Store{Endpoint: endpoint, Bucket: "prefixed", Prefix: "p", AccessKey: user, SecretKey: secret}
		outer := &archive.S3Store{Endpoint: endpoint, Bucket: "prefixed", AccessKey: user, SecretKey: secret}
		for _, s := range []*archive.S3Store{inner, outer} {
			if err := s.Initialize(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := inner.Put(ctx, "a.json", strings.NewReader("{}"), 2, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := outer.Stat(ctx, "p/a.json"); err != nil {
			t.Fatalf("object not stored below the prefix: %v", err)
		}
		if l, err := inner.List(ctx, ""); err != nil || len(l) != 1 || l[0].Key != "a.json" {
			t.Fatalf("List with prefix = %v, %v", l, err)
		}
	})
	t.Run("Initialize wrong credentials", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		s := &archive.S3Store{Endpoint: endpoint, Bucket: "salon", AccessKey: user, SecretKey: "wrong-" + secret}
		err := s.Initialize(ctx)
		if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
			t.Fatalf("Initialize with a wrong secret = %v, want an error about the credentials", err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the secret: %v", err)
		}
	})
	t.Run("Open aborts stale uploads", func(t *testing.T) { testAbortStaleUploads(t, endpoint, user, secret) })
	// Last: it stops MinIO for a while.
	t.Run("outage", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(t.Context(), "before.json", strings.NewReader("{}"), 2, ""); err != nil {
			t.Fatal(err)
		}
		stop()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := s.Put(ctx, "during.json", strings.NewReader("{}"), 2, ""); err == nil {
			t.Fatal("Put while MinIO is stopped succeeded")
		}
		start()
		if _, err := s.Stat(t.Context(), "before.json"); err != nil {
			t.Fatalf("object put before the outage: %v", err)
		}
		if err := s.Put(t.Context(), "after.json", strings.NewReader("{}"), 2, ""); err != nil {
			t.Fatalf("Put after the outage: %v", err)
		}
	})
}

func TestS3Store_Initialize(t *testing.T) {
	// A loopback port that was just closed: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	s := &archive.S3Store{Endpoint: addr, Bucket: "salon", AccessKey: "k", SecretKey: "s"}
	err = s.Initialize(ctx)
	want := "cannot reach the bucket at http://" + addr + "/salon"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "check -archive") {
		t.Fatalf("Initialize on a closed port = %v, want %q…", err, want)
	}

	for _, c := range []struct{ name, endpoint, bucket, prefix string }{
		{"no endpoint", "", "salon", ""},
		{"endpoint with scheme", "http://127.0.0.1:9000", "salon", ""},
		{"bad bucket", addr, "Sa_lon", ""},
		{"bad prefix", addr, "salon", "a//b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &archive.S3Store{Endpoint: c.endpoint, Bucket: c.bucket, Prefix: c.prefix}
			if err := s.Initialize(t.Context()); err == nil || !strings.Contains(err.Error(), "check -archive") {
				t.Fatalf("Initialize = %v, want an error that says to check -archive", err)
			}
		})
	}
}

// testAbortStaleUploads: a salon killed during a slide upload leaves an
// incomplete multipart upload holding its parts in the bucket; the next start
// (Open) aborts it, and leaves uploads of keys that are not salon's alone.
func testAbortStaleUploads(t *testing.T, endpoint, user, secret string) {
	ctx := t.Context()
	const bucket, deck = "stale", "talks/t1/slides/deck.pdf"
	core, err := minio.NewCore(endpoint, &minio.Options{Creds: credentials.NewStaticV4(user, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": user, "AWS_SECRET_ACCESS_KEY": secret}
	open := func(node string) {
		t.Helper()
		if _, _, err := archive.Open(ctx, "s3:http://"+endpoint+"/"+bucket, node, func(k string) string { return env[k] },
			slog.New(slog.NewTextHandler(t.Output(), nil))); err != nil {
			t.Fatal(err)
		}
	}
	open("") // creates the bucket
	markers := func() []minio.ObjectInfo {
		var out []minio.ObjectInfo
		for oi := range core.Client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: ".salon-uploads/", Recursive: true}) {
			if oi.Err != nil {
				t.Fatal(oi.Err)
			}
			out = append(out, oi)
		}
		return out
	}
	uploads := func(key string) int {
		n := 0
		for up := range core.Client.ListIncompleteUploads(ctx, bucket, key, true) {
			if up.Err != nil {
				t.Fatal(up.Err)
			}
			n++
		}
		return n
	}

	// A streamed Put notes its key while the upload runs, and removes the
	// note when it ends, here by failing (minio-go aborts the upload then).
	s := &archive.S3Store{Endpoint: endpoint, Bucket: bucket, AccessKey: user, SecretKey: secret}
	if err := s.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	put := make(chan error, 1)
	go func() { put <- s.Put(ctx, deck, pr, -1, "") }()
	if _, err := pw.Write(make([]byte, 9<<20)); err != nil { // over one part: the upload has begun
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); uploads(deck) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the streamed Put began no multipart upload")
		}
	}
	during := markers()
	if len(during) != 1 {
		t.Fatalf("%d upload markers during the upload, want 1", len(during))
	}
	pw.CloseWithError(errors.New("the speaker's browser went away"))
	if err := <-put; err == nil {
		t.Fatal("Put of a failing body succeeded")
	}
	if m := markers(); len(m) != 0 {
		t.Fatalf("upload markers after the Put ended: %v", m)
	}

	// The crash: the process dies with the upload open, marker and all.
	for _, key := range []string{deck, "not-salon/backup.tar"} {
		id, err := core.NewMultipartUpload(ctx, bucket, key, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		part := strings.Repeat("x", 5<<20)
		if _, err := core.PutObjectPart(ctx, bucket, key, id, 1, strings.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := core.PutObject(ctx, bucket, during[0].Key, strings.NewReader(deck), int64(len(deck)), "", "", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	open("")
	if n := uploads(deck); n != 0 {
		t.Errorf("%d incomplete uploads of %s after the restart, want 0", n, deck)
	}
	if n := uploads("not-salon/backup.tar"); n != 1 {
		t.Errorf("%d incomplete uploads of a key that is not salon's, want it left alone", n)
	}
	if m := markers(); len(m) != 0 {
		t.Errorf("upload markers after the restart: %v", m)
	}

	// Several nodes share the bucket: node b starting while node a uploads
	// leaves a's upload alone; a crash of a is cleaned up when a starts again.
	a := &archive.S3Store{Endpoint: endpoint, Bucket: bucket, AccessKey: user, SecretKey: secret, Node: "a"}
	if err := a.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	pr, pw = io.Pipe()
	go func() { put <- a.Put(ctx, deck, pr, -1, "") }()
	if _, err := pw.Write(make([]byte, 9<<20)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); uploads(deck) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node a's streamed Put began no multipart upload")
		}
	}
	during = markers()
	if len(during) != 1 || !strings.HasPrefix(during[0].Key, ".salon-uploads/a/") {
		t.Fatalf("node a's upload markers %v, want one under .salon-uploads/a/", during)
	}
	open("b")
	if n := uploads(deck); n != 1 {
		t.Fatalf("%d uploads of %s after node b started, want node a's running upload left alone", n, deck)
	}
	pw.Close()
	if err := <-put; err != nil {
		t.Fatalf("node a's upload, after node b started: %v", err)
	}
	id, err := core.NewMultipartUpload(ctx, bucket, deck, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := strings.Repeat("x", 5<<20)
	if _, err := core.PutObjectPart(ctx, bucket, deck, id, 1, strings.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.PutObject(ctx, bucket, during[0].Key, strings.NewReader(deck), int64(len(deck)), "", "", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	open("b")
	if n := uploads(deck); n != 1 {
		t.Fatalf("%d uploads of %s after node b started again, want node a's left to a", n, deck)
	}
	open("a")
	if n := uploads(deck); n != 0 {
		t.Errorf("%d incomplete uploads of %s after node a started again, want its crashed upload aborted", n, deck)
	}
	if m := markers(); len(m) != 0 {
		t.Errorf("upload markers after node a started again: %v", m)
	}
}
