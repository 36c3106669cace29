// Package durable writes files that must survive a crash or a power cut:
// the programme's settings and jobs, the schedule's room mapping, the
// recorder's spool. One owner for the write-fsync-rename-fsync dance.
package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// TempSuffix ends the name of every temporary file WriteFile makes: a file
// with it is a write a crash interrupted, which recovery may remove.
const TempSuffix = ".tmp"

// WriteFile replaces path with data atomically and durably: a temporary file
// beside it (".NAME.*.tmp") is written and fsynced, renamed over path, and the
// directory fsynced, so that after a crash path holds either the old or the
// new data, never a mix. The directory must exist.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*"+TempSuffix)
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, so that the entries created, renamed or
// removed in it survive a power cut. File systems and platforms that cannot
// sync a directory (Windows) are not an error.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // NTFS makes a rename durable itself; a directory cannot be opened for sync
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
