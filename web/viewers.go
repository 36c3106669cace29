package web

import (
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"time"
)

const (
	// viewerWindow is how recently a client must have fetched a stage's
	// playlist to count as watching. hls.js reloads a live playlist about
	// once per target duration (~2 s), so 10 s tolerates a few slow reloads.
	viewerWindow = 10 * time.Second
	// maxViewersPerStage bounds the table against clients that make up ids.
	maxViewersPerStage = 100_000
	// viewerHeader carries the page's random viewer id (also ?viewer=ID).
	viewerHeader = "X-Salon-Viewer"
)

// viewerIDRE is what a client-chosen viewer id may look like.
var viewerIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// viewers remembers when each client last fetched each stage's playlist.
// mu guards seen, perAddr and lastPrune.
type viewers struct {
	window time.Duration
	others otherViewers // nil on one node

	mu        sync.Mutex
	seen      map[string]map[uint64]viewerSeen // stage → client key → last fetch
	perAddr   map[string]map[netip.Prefix]int  // stage → address → keys in seen
	lastPrune time.Time
}

type viewerSeen struct {
	at   time.Time
	addr netip.Prefix // the client's addrKey; zero when not counted per address
}

func newViewers(window time.Duration) *viewers {
	return &viewers{window: window, seen: map[string]map[uint64]viewerSeen{}, perAddr: map[string]map[netip.Prefix]int{}}
}

// viewerKey identifies a client: the id our page (or a load tool) sends,
// else remote IP and User-Agent. The id is scoped by IP so one address can't
// impersonate another's viewer.
func viewerKey(seed maphash.Seed, r *http.Request) uint64 {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(ip)
	h.WriteByte(0)
	id := r.Header.Get(viewerHeader)
	if id == "" {
		id = r.URL.Query().Get("viewer")
	}
	if viewerIDRE.MatchString(id) {
		h.WriteString("id:")
		h.WriteString(id)
	} else {
		h.WriteString("ua:")
		h.WriteString(r.UserAgent())
	}
	return h.Sum64()
}

// touch records a playlist fetch by key on stage at now.
func (v *viewers) touch(stage string, key uint64, now time.Time) {
	v.touchFrom(stage, key, netip.Prefix{}, 0, now)
}

// touchFrom is touch for a client at addr (its addrKey) that may count as at
// most perAddr viewers of the stage (0: no per-address bound, for shared
// networks): one client making up ids counts perAddr times, not once per id.
func (v *viewers) touchFrom(stage string, key uint64, addr netip.Prefix, perAddr int, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Sub(v.lastPrune) > v.window {
		v.pruneLocked(now)
	}
	m := v.seen[stage]
	if m == nil {
		m = map[uint64]viewerSeen{}
		v.seen[stage] = m
	}
	if e, ok := m[key]; ok {
		e.at = now
		m[key] = e
		return
	}
	if len(m) >= maxViewersPerStage || perAddr > 0 && v.perAddr[stage][addr] >= perAddr {
		v.pruneLocked(now)
		if m = v.seen[stage]; m == nil {
			m = map[uint64]viewerSeen{}
			v.seen[stage] = m
		}
		if len(m) >= maxViewersPerStage || perAddr > 0 && v.perAddr[stage][addr] >= perAddr {
			return
		}
	}
	if perAddr <= 0 {
		addr = netip.Prefix{}
	}
	m[key] = viewerSeen{at: now, addr: addr}
	if addr.IsValid() {
		pa := v.perAddr[stage]
		if pa == nil {
			pa = map[netip.Prefix]int{}
			v.perAddr[stage] = pa
		}
		pa[addr]++
	}
}

// otherViewers are the live viewers of a stage that the deployment's other
// nodes count (-nats); cmd/salon adapts the cluster's counts.
type otherViewers interface {
	Viewers(stage string) int
}

// total is count plus the other nodes' viewers of stage: what the API and
// the console show.
func (v *viewers) total(stage string, now time.Time) int {
	n := v.count(stage, now)
	if v.others != nil {
		n += v.others.Viewers(stage)
	}
	return n
}

// count is the number of clients of stage seen within the window before now.
func (v *viewers) count(stage string, now time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, e := range v.seen[stage] {
		if now.Sub(e.at) <= v.window {
			n++
		}
	}
	return n
}

// counts is count for every stage with an entry.
func (v *viewers) counts(now time.Time) map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pruneLocked(now)
	out := make(map[string]int, len(v.seen))
	for stage, m := range v.seen {
		out[stage] = len(m)
	}
	return out
}

func (v *viewers) pruneLocked(now time.Time) {
	v.lastPrune = now
	for stage, m := range v.seen {
		for k, e := range m {
			if now.Sub(e.at) > v.window {
				delete(m, k)
				if e.addr.IsValid() {
					pa := v.perAddr[stage]
					if pa[e.addr]--; pa[e.addr] <= 0 {
						delete(pa, e.addr)
					}
				}
			}
		}
		if len(m) == 0 {
			delete(v.seen, stage)
			delete(v.perAddr, stage)
		}
	}
}
