//go:build unix

package main

import "syscall"

// openFileLimit is the process's limit on open files (the soft limit, which
// Go raises to the hard one at start), or 0 when unknown.
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur)
}
