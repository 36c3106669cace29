//go:build unix && !linux

package transcode

import "syscall"

// childAttr puts the child in a process group of its own.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
