//go:build !unix

package ingest

import "net"

// openFileLimit is unknown here: the descriptor headroom check is off.
func openFileLimit() int { return 0 }

func connFD(net.Conn) int { return -1 }
