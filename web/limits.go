package web

import (
	"net/http"
	"net/netip"
	"time"
)

// Limits bounds what clients can hold on the HTTP port (issue 13: a client
// must not be able to keep connections or request bodies open without end).
// Zero fields take the defaults below; cmd/salon fills them from -http-*
// flags.
type Limits struct {
	// MaxConns is the most connections the port holds at once, websockets
	// included. Past it, a new connection gets 503 and is closed. Default
	// 8192.
	MaxConns int
	// ReserveConns of MaxConns are kept for the organiser: a connection
	// accepted when fewer than ReserveConns remain serves only requests with
	// the admin token (others get 503 and the connection closes). Open
	// connections, websockets among them, are never closed to make room.
	// Default 64.
	ReserveConns int
	// MaxConnsPerAddr is the most connections from one address (an IPv6
	// address's /64); past it a new connection gets 429. Addresses in
	// SharedNets (a venue's NAT) are exempt. Default 64: a browser opens
	// about six, so this is ten tabs with room to spare.
	MaxConnsPerAddr int
	// BodyMinRate is the slowest a request body may arrive, in bytes per
	// second, after BodyGrace: an upload's read deadline moves forward with
	// every chunk received, so a slow but steady upload of any size
	// finishes and a stalled or trickling one is cut. Default 8 KiB/s.
	BodyMinRate int
	// BodyGrace is the time a body has before the rate counts (a phone
	// waking its radio, a proxy buffering). Default 10 s.
	BodyGrace time.Duration
	// BodyIdle is the longest pause inside a body, whatever was sent
	// before. Default 30 s.
	BodyIdle time.Duration
	// WriteIdle is the longest a response write may wait for the client to
	// read (a viewer that stops reading a segment or a download holds its
	// connection no longer). Websockets set their own deadlines. Default 60 s.
	WriteIdle time.Duration
	// ViewerIDsPerAddr is the most viewer ids (X-Salon-Viewer) one address
	// counts as per stage; SharedNets are exempt. Default 16.
	ViewerIDsPerAddr int
}

// Default limits; see Limits.
const (
	DefaultMaxConns         = 8192
	DefaultReserveConns     = 64
	DefaultMaxConnsPerAddr  = 64
	DefaultBodyMinRate      = 8 << 10
	DefaultBodyGrace        = 10 * time.Second
	DefaultBodyIdle         = 30 * time.Second
	DefaultWriteIdle        = 60 * time.Second
	DefaultViewerIDsPerAddr = 16
)

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	setInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setInt(&l.MaxConns, DefaultMaxConns)
	setInt(&l.ReserveConns, DefaultReserveConns)
	setInt(&l.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	setInt(&l.ViewerIDsPerAddr, DefaultViewerIDsPerAddr)
	if l.ReserveConns >= l.MaxConns {
		l.ReserveConns = l.MaxConns / 8
	}
	if l.BodyMinRate <= 0 {
		l.BodyMinRate = DefaultBodyMinRate
	}
	if l.BodyGrace <= 0 {
		l.BodyGrace = DefaultBodyGrace
	}
	if l.BodyIdle <= 0 {
		l.BodyIdle = DefaultBodyIdle
	}
	if l.WriteIdle <= 0 {
		l.WriteIdle = DefaultWriteIdle
	}
	return l
}

// addrKey is the unit the per-address limits count: the address itself for
// IPv4, its /64 for IPv6 (one subscriber gets a whole /64).
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// shared reports whether a is in one of the shared networks (SharedNets).
func shared(nets []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteAddr is the client address of a request or connection address
// string ("1.2.3.4:5678"); invalid when it cannot be parsed.
func remoteAddr(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		a, _ := netip.ParseAddr(hostport)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// touchViewer counts r's client as a viewer of stage, at most
// ViewerIDsPerAddr times per address unless the address is shared.
func (s *audience) touchViewer(stage string, r *http.Request) {
	a := remoteAddr(r.RemoteAddr)
	perAddr := s.perAddr
	if !a.IsValid() || shared(s.sharedNets, a) {
		perAddr = 0
	}
	s.viewers.touchFrom(stage, viewerKey(s.seed, r), addrKey(a), perAddr, time.Now())
}
