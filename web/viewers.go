package web

import (
	"hash/maphash"
	"net"
	"net/http"
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
// mu guards seen and lastPrune.
type viewers struct {
	window time.Duration

	mu        sync.Mutex
	seen      map[string]map[uint64]time.Time // stage → client key → last fetch
	lastPrune time.Time
}

func newViewers(window time.Duration) *viewers {
	return &viewers{window: window, seen: map[string]map[uint64]time.Time{}}
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
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Sub(v.lastPrune) > v.window {
		v.pruneLocked(now)
	}
	m := v.seen[stage]
	if m == nil {
		m = map[uint64]time.Time{}
		v.seen[stage] = m
	}
	if _, ok := m[key]; !ok && len(m) >= maxViewersPerStage {
		v.pruneLocked(now)
		if len(m) >= maxViewersPerStage {
			return
		}
	}
	m[key] = now
}

// count is the number of clients of stage seen within the window before now.
func (v *viewers) count(stage string, now time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, t := range v.seen[stage] {
		if now.Sub(t) <= v.window {
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
		for k, t := range m {
			if now.Sub(t) > v.window {
				delete(m, k)
			}
		}
		if len(m) == 0 {
			delete(v.seen, stage)
		}
	}
}
