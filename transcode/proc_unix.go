//go:build unix

package transcode

import "syscall"

// signalGroup signals the process group whose leader is pid.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	return syscall.Kill(-pid, sig)
}
