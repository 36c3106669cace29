//go:build unix

package chat

import "syscall"

// nonBlockingWrites: the flusher writes to a viewer's socket without
// blocking, straight on its file descriptor.
const nonBlockingWrites = true

// writeFD writes p to a non-blocking socket once; EAGAIN when it is full.
func writeFD(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }
