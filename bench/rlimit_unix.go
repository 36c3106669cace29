//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// raiseFileLimit lifts the soft open-files limit to the hard one (Go does so
// at start-up too; this makes it explicit and returns the limit).
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read the open-files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise the open-files limit to %d: %w", lim.Max, err)
		}
	}
	return uint64(lim.Cur), nil //nolint:unconvert // int64 on some systems
}
