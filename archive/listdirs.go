package archive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
)

var (
	_ DirLister = (*DirStore)(nil)
	_ DirLister = (*S3Store)(nil)
)

// ListDirs implements DirLister with one directory read.
func (s *DirStore) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	if err := dirPrefix(prefix); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(s.Root, filepath.FromSlash(prefix)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list directories below %q: %w", prefix, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), tmpPrefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListDirs implements DirLister with one delimiter listing, so that finding
// a stage's runs costs one request however many segments they hold.
func (s *S3Store) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	if err := dirPrefix(prefix); err != nil {
		return nil, err
	}
	if s.client == nil {
		return nil, errors.New("s3 archive: used before Initialize")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := s.prefix + prefix
	var out []string
	for oi := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: full, Recursive: false}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("list directories below %q in %s: %w", prefix, s.URL(), oi.Err)
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(oi.Key, full), "/")
		if ok && name != "" && !strings.Contains(name, "/") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// dirPrefix checks a ListDirs prefix: a valid key followed by "/".
func dirPrefix(prefix string) error {
	p, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return fmt.Errorf("list directories: prefix %q must end with /", prefix)
	}
	return ValidKey(p)
}
