//go:build unix

package archive

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive flock(2) on dir, which every DirStore (in
// this process or another on the same machine) takes before a conditional
// write to a key in it; unlock releases it.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the lock
}
