package transcode

import "syscall"

// childAttr puts the child in a process group of its own and has the kernel
// kill it if salon dies without stopping it (no orphaned encoder).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
