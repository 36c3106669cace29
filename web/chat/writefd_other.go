//go:build !unix

package chat

import "syscall"

// nonBlockingWrites is false where sockets are not written as file
// descriptors (Windows): every viewer's frames go through its write pump,
// which is correct, only slower for rooms of thousands.
const nonBlockingWrites = false

func writeFD(uintptr, []byte) (int, error) { return 0, syscall.EWINDOWS }
