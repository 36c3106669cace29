//go:build !unix && !windows

package archive

import "errors"

// diskFree is not known on this platform: the recorder does not warn before
// the disk is full (it still holds segments in memory when writes fail).
func diskFree(string) (int64, error) { return 0, errors.ErrUnsupported }
