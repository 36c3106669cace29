package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

const (
	// s3PartSize is the multipart part size for uploads. minio-go buffers one
	// part of an upload whose size is unknown, so this bounds the memory of
	// each concurrent Put; 16 MiB parts also allow objects up to 160 GB
	// (10,000 parts).
	s3PartSize = 16 << 20
	// A streamed Put (size unknown: slide uploads) fills s3StreamThreads
	// parts of s3StreamPartSize while earlier ones upload, so the sender is
	// not paused during each part's upload: 3 × 8 MiB of buffers per Put,
	// objects up to 80 GB.
	s3StreamThreads  = 3
	s3StreamPartSize = 8 << 20
	// s3MaxRetries bounds minio-go's own retries of transient errors (with
	// back-off, ~1+2+4 s). Callers that must not lose data (the recorder)
	// retry on top of it with their own back-off, so failing fast is better
	// than stalling for minutes inside one call.
	s3MaxRetries = 4
)

// S3Store keeps objects in an S3 bucket (AWS, MinIO, or any S3-compatible
// service) through minio-go. Object names are Prefix + "/" + key when Prefix
// is set, else key. Put is atomic because an S3 PUT (or a completed
// multipart upload) is. It is safe for concurrent use after Initialize.
type S3Store struct {
	// Endpoint is HOST or HOST:PORT, without scheme.
	Endpoint string
	// Secure selects https.
	Secure bool
	// Bucket is created by Initialize when missing.
	Bucket string
	// Prefix, optional, is prepended to every key (slashes around it are
	// trimmed); List reports keys without it.
	Prefix string
	// AccessKey and SecretKey are the S3 credentials; Region defaults to
	// "us-east-1".
	AccessKey, SecretKey, Region string
	// Node names this salon among several sharing the bucket (-node with
	// -nats); empty for a salon alone. Its upload markers go under a folder
	// of its own, so a start aborts only what its own earlier run left.
	Node string
	// Log receives bucket creation; nil discards.
	Log *slog.Logger

	client *minio.Client
	prefix string // Prefix without surrounding slashes, "" or ending in "/"
}

var _ Store = (*S3Store)(nil)

// URL returns the store's location as "http://HOST:PORT/BUCKET[/PREFIX]",
// with no credentials, for logs and error messages.
func (s *S3Store) URL() string {
	scheme := "http"
	if s.Secure {
		scheme = "https"
	}
	u := scheme + "://" + s.Endpoint + "/" + s.Bucket
	if p := strings.Trim(s.Prefix, "/"); p != "" {
		u += "/" + p
	}
	return u
}

// Initialize connects to the endpoint, checks the credentials and creates
// the bucket when it is missing. ctx bounds the checks: an unreachable
// endpoint fails when ctx ends or minio-go's retries run out.
func (s *S3Store) Initialize(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if s.Endpoint == "" || strings.ContainsAny(s.Endpoint, "/?#@") {
		return fmt.Errorf("s3 archive: endpoint %q is not HOST or HOST:PORT; check -archive", s.Endpoint)
	}
	if err := s3utils.CheckValidBucketNameStrict(s.Bucket); err != nil {
		return fmt.Errorf("s3 archive: bucket %q: %w; check -archive", s.Bucket, err)
	}
	s.prefix = strings.Trim(s.Prefix, "/")
	if s.prefix != "" {
		if err := validPath(s.prefix); err != nil {
			return fmt.Errorf("s3 archive: prefix %q: %w; check -archive", s.Prefix, err)
		}
		s.prefix += "/"
	}
	client, err := minio.New(s.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:     s.Secure,
		Region:     s.Region,
		MaxRetries: s3MaxRetries,
	})
	if err != nil {
		return fmt.Errorf("s3 archive at %s: %w; check -archive", s.URL(), err)
	}
	s.client = client

	exists, err := client.BucketExists(ctx, s.Bucket)
	if err != nil {
		return s.initErr(err)
	}
	if exists {
		return nil
	}
	err = client.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region})
	if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
		return fmt.Errorf("create bucket %s at %s: %w; check that the credentials may create buckets, or create it yourself",
			s.Bucket, s.URL(), err)
	}
	s.Log.Info("created bucket", "bucket", s.Bucket, "endpoint", s.Endpoint)
	return nil
}

func (s *S3Store) initErr(err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch":
		return fmt.Errorf("the bucket at %s refused the credentials: %w; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", s.URL(), err)
	case resp.StatusCode != 0:
		return fmt.Errorf("the bucket at %s answered with an error: %w; check -archive and AWS_REGION", s.URL(), err)
	}
	return fmt.Errorf("cannot reach the bucket at %s: %w; check -archive and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", s.URL(), err)
}

// object returns the S3 object name of a valid key.
func (s *S3Store) object(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if s.client == nil {
		return "", errors.New("s3 archive: used before Initialize")
	}
	return s.prefix + key, nil
}

// Put implements Store. An empty contentType becomes ContentTypeFor(key).
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = ContentTypeFor(key)
	}
	if size >= 0 {
		r = io.LimitReader(r, size) // the rule on Store.Put: exactly size bytes
	}
	opts := minio.PutObjectOptions{ContentType: contentType, PartSize: s3PartSize}
	if size < 0 {
		opts.PartSize, opts.NumThreads, opts.ConcurrentStreamParts = s3StreamPartSize, s3StreamThreads, true
		// A streamed upload is large (a slide deck): skip signing a SHA-256
		// of every part, which costs salon as much CPU as the rest of the
		// relay. Each part still carries minio-go's CRC32C checksum, which
		// the bucket verifies.
		opts.DisableContentSha256 = true
	}
	if multipart(size) {
		done, err := s.markUpload(ctx, name)
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		defer done()
	}
	info, err := s.client.PutObject(ctx, s.Bucket, name, ctxReader{ctx, r}, size, opts)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("put %s: stored %d bytes, expected %d", key, info.Size, size)
	}
	return nil
}

// Get implements Store.
func (s *S3Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, ObjectInfo, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	if offset < 0 || length < -1 {
		return nil, ObjectInfo{}, fmt.Errorf("get %s: offset %d, length %d: %w", key, offset, length, ErrInvalidRange)
	}
	if length == 0 {
		return s.emptyAt(ctx, key, offset)
	}
	var opts minio.GetObjectOptions
	if offset > 0 || length > 0 {
		end := int64(0) // to the end
		if length > 0 {
			end = offset + length - 1
		}
		if err := opts.SetRange(offset, end); err != nil {
			return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
		}
	}
	body, oi, hdr, err := minio.Core{Client: s.client}.GetObject(ctx, s.Bucket, name, opts)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "InvalidRange" {
			// S3 refuses a range starting at the end; the rule is an empty read.
			return s.emptyAt(ctx, key, offset)
		}
		return nil, ObjectInfo{}, s.mapErr("get", key, err)
	}
	info := s.info(key, oi)
	if cr := hdr.Get("Content-Range"); cr != "" {
		// "bytes 3-6/10": the whole object's size is after the slash.
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				info.Size = n
			}
		}
	}
	return body, info, nil
}

// emptyAt serves a Get that reads nothing: valid when offset <= size.
func (s *S3Store) emptyAt(ctx context.Context, key string, offset int64) (io.ReadCloser, ObjectInfo, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	if _, err := clampRange(offset, 0, info.Size); err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	return io.NopCloser(strings.NewReader("")), info, nil
}

// Stat implements Store.
func (s *S3Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	name, err := s.object(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, s.Bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.mapErr("stat", key, err)
	}
	return s.info(key, oi), nil
}

func (s *S3Store) mapErr(op, key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("%s %s: %w (%v)", op, key, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s in %s: %w", op, key, s.URL(), err)
}

func (s *S3Store) info(key string, oi minio.ObjectInfo) ObjectInfo {
	return ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified, ContentType: oi.ContentType, ETag: oi.ETag}
}

// List implements Store. Listed objects carry no ContentType (S3 listings
// do not return it); Stat has it.
func (s *S3Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	if s.client == nil {
		return nil, errors.New("s3 archive: used before Initialize")
	}
	ctx, cancel := context.WithCancel(ctx) // stops minio-go's lister on an early return
	defer cancel()
	var out []ObjectInfo
	for oi := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("list %q in %s: %w", prefix, s.URL(), oi.Err)
		}
		key := strings.TrimPrefix(oi.Key, s.prefix)
		if ValidKey(key) != nil {
			continue // written by another tool; unreachable through this interface
		}
		out = append(out, s.info(key, oi))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.Bucket, name, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("delete %s in %s: %w", key, s.URL(), err)
	}
	return nil
}

// PutIf implements Store with S3's conditional writes (If-Match on the
// ETag, If-None-Match: *), which MinIO and AWS S3 honour: the bucket checks
// the condition and stores the object in one step.
func (s *S3Store) PutIf(ctx context.Context, key string, data []byte, contentType string, cond Condition) (string, error) {
	name, err := s.object(key)
	if err != nil {
		return "", err
	}
	if contentType == "" {
		contentType = ContentTypeFor(key)
	}
	opts := minio.PutObjectOptions{ContentType: contentType, PartSize: s3PartSize}
	if cond.IfMatch != "" {
		opts.SetMatchETag(cond.IfMatch)
	}
	if cond.IfNoneMatch {
		opts.SetMatchETagExcept("*")
	}
	info, err := s.client.PutObject(ctx, s.Bucket, name, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		// If-Match on a missing object: S3 answers 404 (the condition
		// failed all the same); a concurrent create: 409 on some servers.
		if resp.StatusCode == http.StatusPreconditionFailed || resp.Code == minio.PreconditionFailed ||
			(cond.IfMatch != "" && resp.Code == minio.NoSuchKey) ||
			(cond.IfNoneMatch && resp.StatusCode == http.StatusConflict) {
			return "", fmt.Errorf("put %s: %w", key, ErrPreconditionFailed)
		}
		return "", fmt.Errorf("put %s in %s: %w", key, s.URL(), err)
	}
	return info.ETag, nil
}
