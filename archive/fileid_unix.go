//go:build unix

package archive

import (
	"io/fs"
	"syscall"
)

// fileID is the file's inode number: a rename over a key makes a new one.
func fileID(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) //nolint:unconvert // uint32 on some systems
	}
	return 0
}
