package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// uploadMarkers is where S3Store notes a multipart upload while it runs: an
// object per key being uploaded, holding the key. A process killed during the
// upload (a slide deck, say) leaves the upload incomplete, its parts using
// space in the bucket until someone aborts it; the marker says which key to
// look at. (Listing incomplete uploads by prefix would find them without
// markers on AWS, but MinIO lists them only for an exact object name.) The
// leading dot keeps markers out of salon's key space (ValidKey refuses it).
const uploadMarkers = ".salon-uploads/"

// multipart tells whether a Put of size bytes is a multipart upload.
func multipart(size int64) bool { return size < 0 || size > s3PartSize }

// abandonedAfter is how old another node's upload marker must be before a
// start takes its upload for abandoned: no upload of salon's runs that long.
const abandonedAfter = 24 * time.Hour

// markerName is the marker of an upload of name begun by this node: under
// the node's own folder when several salons share the bucket (Node set).
func (s *S3Store) markerName(name string) string {
	return markerKey(s.prefix+uploadMarkers+s.nodeDir(), name)
}

func (s *S3Store) nodeDir() string {
	if s.Node == "" {
		return ""
	}
	return s.Node + "/"
}

func markerKey(dir, name string) string {
	sum := sha256.Sum256([]byte(name))
	return dir + hex.EncodeToString(sum[:16])
}

// markUpload records that name is being uploaded; the returned function
// removes the record once the upload is complete or aborted.
func (s *S3Store) markUpload(ctx context.Context, name string) (done func(), err error) {
	marker := s.markerName(name)
	if _, err := s.client.PutObject(ctx, s.Bucket, marker, strings.NewReader(name), int64(len(name)),
		minio.PutObjectOptions{ContentType: "text/plain"}); err != nil {
		return nil, err
	}
	return func() {
		// Not on ctx: the upload's context may have ended, the marker must go.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.client.RemoveObject(ctx, s.Bucket, marker, minio.RemoveObjectOptions{}); err != nil {
			s.Log.Warn("upload marker left in the bucket; the next start removes it", "marker", marker, "error", err)
		}
	}, nil
}

// AbortStaleUploads aborts the incomplete multipart uploads that salon began
// more than olderThan ago and never finished, and returns how many keys it
// cleaned. Pass 0 at start: no upload of this node's own can be in progress
// then. Uploads other nodes sharing the bucket began (markers under another
// Node's folder) are left alone until they are a day old, however small
// olderThan is: they may be running now.
func (s *S3Store) AbortStaleUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	now := time.Now()
	own := s.prefix + uploadMarkers + s.nodeDir()
	n := 0
	for oi := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: s.prefix + uploadMarkers, Recursive: true}) {
		if oi.Err != nil {
			return n, fmt.Errorf("list upload markers in %s: %w", s.URL(), oi.Err)
		}
		dir := oi.Key[:strings.LastIndexByte(oi.Key, '/')+1]
		age := now.Sub(oi.LastModified)
		// Another node's upload may be running now: only one older than
		// any upload salon makes is taken for abandoned.
		if age < olderThan || dir != own && age < abandonedAfter {
			continue
		}
		obj, err := s.client.GetObject(ctx, s.Bucket, oi.Key, minio.GetObjectOptions{})
		if err != nil {
			return n, fmt.Errorf("read upload marker %s: %w", oi.Key, err)
		}
		b, err := io.ReadAll(io.LimitReader(obj, 2048))
		obj.Close()
		if err != nil {
			return n, fmt.Errorf("read upload marker %s: %w", oi.Key, err)
		}
		name := string(b)
		// Only a marker that names its own object is trusted: nothing else
		// in the bucket can make salon abort an upload it did not start.
		if markerKey(dir, name) == oi.Key {
			if err := s.client.RemoveIncompleteUpload(ctx, s.Bucket, name); err != nil {
				return n, fmt.Errorf("abort the incomplete upload of %s: %w", name, err)
			}
			s.Log.Info("aborted an incomplete upload left by an earlier run", "key", strings.TrimPrefix(name, s.prefix),
				"begun", oi.LastModified.UTC().Format(time.RFC3339))
			n++
		}
		if err := s.client.RemoveObject(ctx, s.Bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil {
			return n, fmt.Errorf("remove upload marker %s: %w", oi.Key, err)
		}
	}
	return n, nil
}
