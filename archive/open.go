package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// specForms names the accepted -archive forms, for error messages.
const specForms = "a directory path, or s3:http://HOST:PORT/BUCKET[/PREFIX] or s3:https://HOST[:PORT]/BUCKET[/PREFIX]"

// s3Spec is a parsed "s3:" -archive value.
type s3Spec struct {
	Secure                   bool
	Endpoint, Bucket, Prefix string
}

// parseSpec splits an -archive value into a directory (dir != "") or an S3
// location. It touches nothing.
func parseSpec(spec string) (dir string, s3 s3Spec, err error) {
	if spec == "" {
		return "", s3Spec{}, fmt.Errorf("-archive is empty; want %s", specForms)
	}
	rest, isS3 := strings.CutPrefix(spec, "s3:")
	if !isS3 {
		if strings.Contains(spec, "://") {
			return "", s3Spec{}, fmt.Errorf("-archive %q looks like a URL, not a directory; want %s", redact(spec), specForms)
		}
		return spec, s3Spec{}, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("-archive %q: %s; want s3:http://HOST:PORT/BUCKET[/PREFIX] or s3:https://…, credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", redact(spec), why)
	}
	u, err := url.Parse(rest)
	if err != nil {
		return "", s3Spec{}, bad("not a URL")
	}
	switch u.Scheme {
	case "http":
	case "https":
		s3.Secure = true
	default:
		return "", s3Spec{}, bad("the scheme must be http or https")
	}
	switch {
	case u.User != nil:
		return "", s3Spec{}, bad("credentials do not belong in -archive")
	case u.Opaque != "" || u.Host == "":
		return "", s3Spec{}, bad("no host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(rest, "#"):
		return "", s3Spec{}, bad("no query or fragment is allowed")
	case u.Port() == "" && strings.HasSuffix(u.Host, ":"):
		return "", s3Spec{}, bad("empty port")
	case strings.ContainsAny(u.Host, "%\\") || u.Hostname() == "":
		return "", s3Spec{}, bad("bad host")
	}
	s3.Endpoint = u.Host
	p := strings.TrimPrefix(u.Path, "/")
	s3.Bucket, s3.Prefix, _ = strings.Cut(p, "/")
	s3.Prefix = strings.TrimSuffix(s3.Prefix, "/")
	if s3.Bucket == "" {
		return "", s3Spec{}, bad("no bucket")
	}
	if err := s3utils.CheckValidBucketNameStrict(s3.Bucket); err != nil {
		return "", s3Spec{}, bad(fmt.Sprintf("bucket %q: %v", s3.Bucket, err))
	}
	if s3.Prefix != "" {
		if err := validPath(s3.Prefix); err != nil {
			return "", s3Spec{}, bad(fmt.Sprintf("prefix %q: %v", s3.Prefix, err))
		}
	}
	return "", s3, nil
}

// redact hides anything between "://" and "@" so a mistaken password never
// reaches a log.
func redact(spec string) string {
	i := strings.Index(spec, "://")
	if i < 0 {
		return spec
	}
	host := spec[i+3:]
	if end := strings.IndexAny(host, "/?#"); end >= 0 {
		host = host[:end]
	}
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		return spec[:i+3] + "REDACTED" + spec[i+3+at:]
	}
	return spec
}

// Open returns the initialized Store an -archive value names: a directory
// (a DirStore) or an S3 bucket (an S3Store) with credentials from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and AWS_REGION (default
// "us-east-1"), read through getenv. It creates a missing directory or
// bucket and fails with what to check when the storage is unusable. The
// string describes the store for logs; it holds no secret. node names this
// salon among several sharing the bucket (S3Store.Node), "" for one alone.
func Open(ctx context.Context, spec, node string, getenv func(string) string, log *slog.Logger) (Store, string, error) {
	dir, s3, err := parseSpec(spec)
	if err != nil {
		return nil, "", err
	}
	if dir != "" {
		s := &DirStore{Root: dir}
		if err := s.Initialize(); err != nil {
			return nil, "", err
		}
		desc := "directory " + dir
		if abs, err := filepath.Abs(dir); err == nil {
			desc = "directory " + abs
		}
		return s, desc, nil
	}
	s := &S3Store{
		Endpoint:  s3.Endpoint,
		Secure:    s3.Secure,
		Bucket:    s3.Bucket,
		Prefix:    s3.Prefix,
		AccessKey: getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: getenv("AWS_SECRET_ACCESS_KEY"),
		Region:    getenv("AWS_REGION"),
		Node:      node,
		Log:       log,
	}
	if s.AccessKey == "" || s.SecretKey == "" {
		return nil, "", errors.New("-archive names an S3 bucket but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not set; set both")
	}
	if err := s.Initialize(ctx); err != nil {
		return nil, "", err
	}
	// An upload this node left open was cut off by a crash and would hold
	// its parts in the bucket for ever (other nodes' wait a day).
	if _, err := s.AbortStaleUploads(ctx, 0); err != nil {
		log.Warn("could not clean up incomplete uploads left by an earlier run; they use space in the bucket until aborted", "error", err)
	}
	return s, "s3:" + s.URL() + " (region " + s.Region + ")", nil
}
