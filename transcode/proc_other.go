//go:build !unix

package transcode

import (
	"os"
	"syscall"
)

// childAttr: no process groups here; the child is one process.
func childAttr() *syscall.SysProcAttr { return nil }

// signalGroup ends the child. Windows has no SIGTERM to send: every signal
// ends the process at once, and ffmpeg's output is closed by that.
func signalGroup(pid int, _ syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
