package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/salon/salon/internal/durable"
)

// tmpPrefix starts the name of every file a DirStore Put is still writing.
// List never reports such files, and keys with a segment that starts with it
// are refused, so a temp file can never be mistaken for an object.
const tmpPrefix = ".salon-tmp-"

// DirStore keeps objects as files below Root: key "a/b/c.m4s" is the file
// Root/a/b/c.m4s, so the directory can be served as-is by any static web
// server. It is safe for concurrent use; it must not be copied after first use.
//
// Content types are not stored: every object reports ContentTypeFor(key).
// ETags are derived from size, modification time and inode (see etag). A file and a directory cannot share a name, so keys
// "a" and "a/b" cannot both exist (MinIO refuses that too).
//
// Put is atomic and durable: it streams into a temp file in the target's
// directory, fsyncs it, renames it over the key and fsyncs the directory.
// Temp files left by a crash are harmless (never listed); they can be removed
// by hand.
//
// PutIf checks the condition and writes holding a lock of the key's stripe
// and an flock(2) of the key's directory: conditional writes are atomic
// among every DirStore on the same directory of one machine (salons
// sharing a directory over a network file system have no such guarantee;
// a cluster of salons shares a bucket).
type DirStore struct {
	// Root is the directory that holds the objects; Initialize creates it.
	Root string

	// condMu serialises PutIf per key (a key hashes to one stripe).
	condMu [32]sync.Mutex
}

var _ Store = (*DirStore)(nil)

// Initialize creates Root when missing and checks that it is writable.
func (s *DirStore) Initialize() error {
	if s.Root == "" {
		return errors.New("archive directory: no path given")
	}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return fmt.Errorf("archive directory: %w; check -archive and the permissions of its parent", err)
	}
	f, err := os.CreateTemp(s.Root, tmpPrefix+"probe-*")
	if err != nil {
		return fmt.Errorf("archive directory %s is not writable: %w; check -archive and its permissions", s.Root, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("archive directory %s: remove probe file: %w", s.Root, err)
	}
	return nil
}

func (s *DirStore) path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, tmpPrefix) {
			return "", fmt.Errorf("invalid key %q: segments starting with %q are reserved for temp files", key, tmpPrefix)
		}
	}
	return filepath.Join(s.Root, filepath.FromSlash(key)), nil
}

// Put implements Store. contentType is ignored (see the type's comment).
func (s *DirStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	dir := filepath.Dir(p)
	// A concurrent Delete may prune the directory between mkdirs and
	// CreateTemp; once the temp file exists the directory is not empty and
	// stays.
	var f *os.File
	for range 3 {
		if err = s.mkdirs(dir); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		f, err = os.CreateTemp(dir, tmpPrefix+"*")
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	if err := writeFile(ctx, f, r, size); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	return renameDurably(key, tmp, p)
}

// PutIf implements Store. The ETag compared is the one Stat and Get report
// (size, modification time and inode): every Put renames a new file over
// the key, so it changes with every write, and checking it costs a stat,
// not a hash of the content.
func (s *DirStore) PutIf(ctx context.Context, key string, data []byte, contentType string, cond Condition) (string, error) {
	if _, err := s.path(key); err != nil {
		return "", err
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	mu := &s.condMu[h.Sum32()%uint32(len(s.condMu))]
	mu.Lock()
	defer mu.Unlock()
	p, _ := s.path(key)
	if err := s.mkdirs(filepath.Dir(p)); err != nil {
		return "", fmt.Errorf("put %s: %w", key, err)
	}
	unlock, err := lockDir(filepath.Dir(p))
	if err != nil {
		return "", fmt.Errorf("put %s: lock its directory: %w", key, err)
	}
	defer unlock()
	if cond.IfMatch != "" || cond.IfNoneMatch {
		info, err := s.Stat(ctx, key)
		switch {
		case err != nil && !errors.Is(err, ErrNotFound):
			return "", err
		case err != nil && cond.IfMatch != "":
			return "", fmt.Errorf("put %s: it does not exist: %w", key, ErrPreconditionFailed)
		case err == nil && cond.IfNoneMatch:
			return "", fmt.Errorf("put %s: it exists: %w", key, ErrPreconditionFailed)
		case err == nil && cond.IfMatch != "" && info.ETag != cond.IfMatch:
			return "", fmt.Errorf("put %s: ETag %s, not %s: %w", key, info.ETag, cond.IfMatch, ErrPreconditionFailed)
		}
	}
	if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), contentType); err != nil {
		return "", err
	}
	info, err := s.Stat(ctx, key)
	if err != nil {
		return "", err
	}
	return info.ETag, nil
}

// PutFile stores the file at path, which must not change afterwards, as
// key: a hard link to it when both are on one file system (the recorder's
// spool and a directory archive usually are), so that its bytes are not
// written a second time; a copy otherwise. The file must already be
// durable (the spool fsyncs what it writes); the link is made atomically
// under a temp name, renamed over the key and the directory fsynced, like
// Put.
func (s *DirStore) PutFile(ctx context.Context, key, path string, size int64) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != size {
		return s.putCopy(ctx, key, path, size)
	}
	dir := filepath.Dir(p)
	if err := s.mkdirs(dir); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp := filepath.Join(dir, tmpPrefix+"link-"+filepath.Base(p))
	_ = os.Remove(tmp) // left by a crash
	if err := os.Link(path, tmp); err != nil {
		// Another file system, or one without hard links.
		return s.putCopy(ctx, key, path, size)
	}
	return renameDurably(key, tmp, p)
}

// renameDurably ends a put of key: it renames the complete, fsynced temp
// file tmp over p, then fsyncs p's directory so that the rename survives a
// crash. tmp is removed when the rename fails.
func renameDurably(key, tmp, p string) error {
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (s *DirStore) putCopy(ctx context.Context, key, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	return s.Put(ctx, key, f, size, "")
}

// writeFile copies r into f (exactly size bytes when size >= 0), then makes
// the content durable and closes f.
func writeFile(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	if size < 0 {
		if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
			return err
		}
	} else if n, err := io.CopyN(f, ctxReader{ctx, r}, size); err != nil {
		if err == io.EOF {
			return fmt.Errorf("read %d bytes, expected %d", n, size)
		}
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// mkdirs creates dir and its missing parents below Root, fsyncing each parent
// so that a new directory survives a crash together with the file put in it.
func (s *DirStore) mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if dir == filepath.Clean(s.Root) || dir == filepath.Dir(dir) {
		return os.MkdirAll(dir, 0o755)
	}
	parent := filepath.Dir(dir)
	if err := s.mkdirs(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Get implements Store.
func (s *DirStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, ObjectInfo{}, s.statErr("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	info := s.info(key, fi)
	n, err := clampRange(offset, length, info.Size)
	if err != nil {
		f.Close()
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	return sectionReadCloser{io.NewSectionReader(f, offset, n), f}, info, nil
}

// clampRange checks a Get range against the object's size and returns the
// number of bytes to read, following the rule documented on Store.Get.
func clampRange(offset, length, size int64) (int64, error) {
	if offset < 0 || length < -1 {
		return 0, fmt.Errorf("offset %d, length %d: %w", offset, length, ErrInvalidRange)
	}
	if offset > size {
		return 0, fmt.Errorf("offset %d past the end of %d bytes: %w", offset, size, ErrInvalidRange)
	}
	if length == -1 || length > size-offset {
		return size - offset, nil
	}
	return length, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	f *os.File
}

func (r sectionReadCloser) Close() error { return r.f.Close() }

// Stat implements Store.
func (s *DirStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, s.statErr("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	return s.info(key, fi), nil
}

// statErr maps "no such file" (also "a parent is a file") to ErrNotFound.
func (s *DirStore) statErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

func (s *DirStore) info(key string, fi fs.FileInfo) ObjectInfo {
	return ObjectInfo{
		Key:         key,
		Size:        fi.Size(),
		ModTime:     fi.ModTime(),
		ContentType: ContentTypeFor(key),
		ETag:        etag(fi),
	}
}

// etag is size, modification time and inode: every Put renames a new file
// (a new inode) over the key, so the ETag changes even when two writes of
// the same size land in the same clock tick.
func etag(fi fs.FileInfo) string {
	ino := fileID(fi)
	return strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + "-" + strconv.FormatUint(ino, 16)
}

// List implements Store. It walks only the directory that holds the prefix.
func (s *DirStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	base := s.Root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		base = filepath.Join(s.Root, filepath.FromSlash(prefix[:i]))
	}
	var out []ObjectInfo
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == base && (errors.Is(err, fs.ErrNotExist) || isNotDir(err)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.Root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while listing
		}
		if err != nil {
			return err
		}
		out = append(out, s.info(key, fi))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store. It also removes directories left empty, up to
// (not including) Root.
func (s *DirStore) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return nil // a "directory" is not an object
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	root := filepath.Clean(s.Root)
	for dir := filepath.Dir(p); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or already gone): stop pruning
		}
	}
	return nil
}

// ctxReader stops a long copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// isNotDir reports ENOTDIR: a parent of the path is a file, so the key
// cannot exist.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
