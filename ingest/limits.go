package ingest

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Limits bound what a client can hold on an ingest port before it proves it
// is a publisher, and how long a publisher may hold a stage without sending
// media. The zero value of a field means its default.
//
// Every connection limit applies to connections that do not publish yet: a
// connection that holds a stage is never closed because of other people's
// connections.
type Limits struct {
	// HandshakeTimeout is how long a new connection has to start publishing
	// (RTSP RECORD, RTMP publish with the right key) before it is closed,
	// whether it is silent or slow (default 10 s).
	HandshakeTimeout time.Duration
	// MaxConns is the number of connections per port that are not
	// publishing yet (default 64). When it is reached, the oldest of them is
	// closed to make room: a real publisher gets through in milliseconds,
	// idle or slow clients are the ones that wait.
	MaxConns int
	// MaxConnsPerAddr is the same bound per client address (an IPv4
	// address, an IPv6 /64) (default 8).
	MaxConnsPerAddr int
	// MediaTimeout ends a publish that has sent no audio or video for this
	// long, even when its connection stays open, so that the stage is free
	// for a backup publisher (default 10 s).
	MediaTimeout time.Duration
	// KeyFailures wrong publish keys from one address within KeyWindow make
	// that address wait KeyWindow before it may try again (defaults 10 and
	// 1 min).
	KeyFailures int
	KeyWindow   time.Duration
}

// DefaultLimits returns the limits used for fields left zero.
func DefaultLimits() Limits {
	return Limits{
		HandshakeTimeout: 10 * time.Second,
		MaxConns:         64,
		MaxConnsPerAddr:  8,
		MediaTimeout:     10 * time.Second,
		KeyFailures:      10,
		KeyWindow:        time.Minute,
	}
}

// withDefaults fills zero fields with their defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = d.HandshakeTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxConnsPerAddr <= 0 {
		l.MaxConnsPerAddr = d.MaxConnsPerAddr
	}
	if l.MediaTimeout <= 0 {
		l.MediaTimeout = d.MediaTimeout
	}
	if l.KeyFailures <= 0 {
		l.KeyFailures = d.KeyFailures
	}
	if l.KeyWindow <= 0 {
		l.KeyWindow = d.KeyWindow
	}
	return l
}

// Validate reports a limit that cannot work, naming the field.
func (l Limits) Validate() error {
	switch {
	case l.HandshakeTimeout < 0 || l.MediaTimeout < 0 || l.KeyWindow < 0:
		return fmt.Errorf("ingest limits: durations must not be negative")
	case l.HandshakeTimeout > 0 && l.HandshakeTimeout < time.Second:
		return fmt.Errorf("ingest handshake timeout %s: at least 1s (encoders need a few round trips)", l.HandshakeTimeout)
	case l.MediaTimeout > 0 && l.MediaTimeout < time.Second:
		return fmt.Errorf("ingest media timeout %s: at least 1s", l.MediaTimeout)
	case l.MaxConns < 0 || l.MaxConnsPerAddr < 0 || l.KeyFailures < 0:
		return fmt.Errorf("ingest limits: counts must not be negative")
	case l.MaxConns > 0 && l.MaxConnsPerAddr > l.MaxConns:
		return fmt.Errorf("ingest limits: %d connections per address is more than %d per port", l.MaxConnsPerAddr, l.MaxConns)
	}
	return nil
}

// clientKey is the address a client is limited by: its IPv4 address, or the
// /64 of its IPv6 address (one host gets a whole /64). The zero Addr stands
// for addresses that are not IP (tests with pipes).
func clientKey(a net.Addr) netip.Addr {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		if a == nil {
			return netip.Addr{}
		}
		p, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		ap = p
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}
