package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/salon/salon/internal/durable"
)

// tmpSuffix ends the name of every temporary spool file: a file with it is
// a write a crash interrupted, and recovery removes it.
const tmpSuffix = durable.TempSuffix

// spool is the recorder's directory on local disk. A file's path below dir
// is its bucket key, so what a crash leaves is uploaded where it belongs.
// Every write is durable before it is reported done: temporary file, fsync,
// rename, fsync of the directory (and of each directory it had to create).
type spool struct {
	dir string
}

// path returns the spool file of a bucket key (already validated).
func (s spool) path(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key))
}

// write stores data as the file of key, atomically and durably.
func (s spool) write(key string, data []byte) error {
	return s.writePath(s.path(key), data)
}

func (s spool) writePath(path string, data []byte) error {
	if err := s.ensureDir(filepath.Dir(path)); err != nil {
		return err
	}
	if err := durable.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("spool %s: %w (is the spool disk full or read-only?)", path, err)
	}
	return nil
}

// appendLine appends line to the file at path (creating it) and fsyncs it.
func (s spool) appendLine(path string, line []byte) error {
	dir := filepath.Dir(path)
	if err := s.ensureDir(dir); err != nil {
		return err
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("spool %s: %w", path, err)
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool %s: %w (is the spool disk full?)", path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		return durable.SyncDir(dir)
	}
	return nil
}

// ensureDir creates dir and its missing parents below the spool root,
// fsyncing each parent so that the new entries survive a power cut.
func (s spool) ensureDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && strings.HasPrefix(parent, s.dir) && len(parent) > len(s.dir) {
		if err := s.ensureDir(parent); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create spool directory: %w (check SpoolDir's permissions)", err)
	}
	return durable.SyncDir(parent)
}

// remove deletes a spool file, and its directory when that became empty
// (a failure there is harmless: recovery skips empty directories).
func (s spool) remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove spool file: %w", err)
	}
	return nil
}

// removeDirs removes dir and then its parents while they are empty, up to
// (not including) the spool root.
func (s spool) removeDirs(dir string) {
	for len(dir) > len(s.dir) && strings.HasPrefix(dir, s.dir) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// spoolFile is one file found by scan.
type spoolFile struct {
	key  string // bucket key (slash-separated)
	path string
	size int64
}

// scan walks the spool after a restart: it removes temporary files left by
// a crash and returns the run logs and the objects still to upload, each
// sorted by key. Files whose path is no valid key are reported in skipped
// and left alone.
func (s spool) scan() (logs, objects []spoolFile, skipped []string, err error) {
	err = filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if strings.HasSuffix(d.Name(), tmpSuffix) {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("remove interrupted spool write: %w", err)
			}
			return nil
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if ValidKey(key) != nil {
			skipped = append(skipped, path)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := spoolFile{key: key, path: path, size: info.Size()}
		if d.Name() == runLogName {
			logs = append(logs, f)
		} else {
			objects = append(objects, f)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scan spool %s: %w", s.dir, err)
	}
	return logs, objects, skipped, nil
}
