//go:build !unix

package archive

import "io/fs"

// fileID is not available here; ETags rest on size and modification time
// (nanoseconds on NTFS), which a rename over a key changes in practice.
func fileID(fs.FileInfo) uint64 { return 0 }
