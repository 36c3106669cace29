// Package relay serves the live HLS of a stage that another node ingests:
// each file is fetched from that node over HTTP. Init segments, segments
// and parts never change, so they are kept in a bounded memory cache and
// leave the owner about once per node however many viewers ask; a playlist
// is kept only as long as the owner's Cache-Control allows (its blocking
// reloads' answers, briefly), and concurrent requests for one object, a
// blocking reload's included, share one request to the owner.
//
// It imports none of salon's packages: cmd/salon gives it the ingest leases
// (Owners) and the local stream registry (Local), and web calls Fetch.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Header marks a request one node makes to another for a relayed file: the
// node answering it serves from its own memory only and never relays again
// (two nodes that each believe the other ingests a stage do not loop). Its
// value is the asking node's name.
const Header = "X-Salon-Relay"

// Defaults.
const (
	DefaultCacheBytes = 64 << 20
	// fetchTimeout bounds one request to the owner: a blocking reload or a
	// hinted part waits there at most three target durations (6 s at the
	// default 2 s segments), and viewers' own requests give up at 10 s.
	fetchTimeout = 15 * time.Second
	// dialTimeout bounds connecting to the owner; a node that does not
	// answer is then skipped for downFor, so that viewers get their 503
	// at once instead of each waiting for a connect that will fail.
	dialTimeout = 2 * time.Second
	downFor     = time.Second
	// maxObject bounds one file read from the owner: a 20 s segment at
	// 50 Mb/s is 125 MB.
	maxObject = 256 << 20
	// maxPlaylistAge bounds how long a playlist is kept, whatever the
	// owner's max-age.
	maxPlaylistAge = 2 * time.Second
)

// Owners says which node ingests a stage; *cluster.Leases satisfies it
// through cmd's adapter.
type Owners interface {
	// Owner is the node that ingests stage now: its name, its base URL
	// ("" when it has none), and a token that changes with each claim of
	// the stage (file names restart under a new claim). ok false: none.
	Owner(stage string) (node, url, claim string, ok bool)
}

// Local says which stages this node ingests (*stream.Registry).
type Local interface {
	Live(stage string) bool
}

// Object is a file as the owner answered it.
type Object struct {
	Status       int
	Body         []byte
	ContentType  string
	CacheControl string
	RetryAfter   string
}

// Errors Fetch returns besides the caller's context's.
var (
	// ErrNoOwner: no node ingests the stage any more.
	ErrNoOwner = errors.New("no node ingests the stage now")
	// ErrUnreachable: the owner did not answer; retry shortly.
	ErrUnreachable = errors.New("the node that ingests the stage did not answer")
)

// Relay fetches and keeps other nodes' live files.
//
// Its fields are set before Initialize and not changed after. The cache and
// the down list have their own locks; the rest is read-only.
type Relay struct {
	// parameters
	Self   string // this node's name: its own leases are served locally
	Owners Owners
	Local  Local
	// CacheBytes bounds the memory of kept files. Default DefaultCacheBytes.
	CacheBytes int64
	// Client makes the requests to the owners. Default: one with a 2 s
	// connect timeout and keep-alive connections.
	Client  *http.Client
	Metrics prometheus.Registerer // optional
	Log     *slog.Logger

	// private
	cache   *cache
	flight  singleflight.Group
	downMu  sync.Mutex
	down    map[string]time.Time // owner URL → skipped until
	fetches *prometheus.CounterVec
	hits    prometheus.Counter
}

// Initialize fills the defaults and registers the metrics.
func (r *Relay) Initialize() error {
	if r.Owners == nil || r.Local == nil || r.Self == "" {
		return errors.New("relay: Self, Owners and Local are required")
	}
	if r.CacheBytes <= 0 {
		r.CacheBytes = DefaultCacheBytes
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Client == nil {
		r.Client = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			// The owner's own files come uncompressed; playlists are small.
			DisableCompression: true,
		}}
	}
	r.cache = newCache(r.CacheBytes)
	r.down = make(map[string]time.Time)
	r.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "salon_relay_fetches_total",
		Help: "Requests this node made to the node that ingests a stage, for files its viewers asked for, by result (the owner's status code, or error).",
	}, []string{"result"})
	r.hits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "salon_relay_cache_hits_total",
		Help: "Relayed live files served from this node's memory.",
	})
	if r.Metrics != nil {
		for _, c := range []prometheus.Collector{r.fetches, r.hits, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "salon_relay_cache_bytes",
			Help: "Bytes of other nodes' live files kept in memory.",
		}, func() float64 { return float64(r.cache.size()) })} {
			if err := r.Metrics.Register(c); err != nil {
				return fmt.Errorf("relay: register metrics: %w", err)
			}
		}
	}
	return nil
}

// Remote reports whether another node ingests stage now: not this one, and
// this one has no publish of it.
func (r *Relay) Remote(stage string) bool {
	if r.Local.Live(stage) {
		return false
	}
	node, _, _, ok := r.Owners.Owner(stage)
	return ok && node != r.Self
}

// Fetch returns file (a path below /live/{stage}/: "index.m3u8",
// "720p/12.m4s", …) with query (the low-latency directives, already
// canonical) from the node that ingests stage, or from memory. It returns
// when ctx ends, however long the owner takes; the request to the owner
// goes on for the other viewers waiting for the same object, bounded by
// fetchTimeout.
func (r *Relay) Fetch(ctx context.Context, stage, file, query string) (Object, error) {
	node, base, claim, ok := r.Owners.Owner(stage)
	if !ok || node == r.Self {
		return Object{}, ErrNoOwner
	}
	if base == "" {
		return Object{}, fmt.Errorf("node %s ingests stage %s but did not say where it serves it (start it with -node-url, or upgrade it)", node, stage)
	}
	key := node + "\x00" + claim + "\x00" + stage + "/" + file + "?" + query
	if obj, ok := r.cache.get(key, time.Now()); ok {
		r.hits.Inc()
		return obj, nil
	}
	if r.isDown(base) {
		return Object{}, fmt.Errorf("%w (node %s at %s failed a moment ago)", ErrUnreachable, node, base)
	}
	u := base + "/live/" + stage + "/" + file
	if query != "" {
		u += "?" + query
	}
	ch := r.flight.DoChan(key, func() (any, error) { return r.fetch(key, node, base, u) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return Object{}, res.Err
		}
		return res.Val.(Object), nil
	case <-ctx.Done():
		return Object{}, ctx.Err()
	}
}

// fetch makes the one request to the owner for key, and keeps the answer
// when the owner allows it.
func (r *Relay) fetch(key, node, base, u string) (Object, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Object{}, fmt.Errorf("relay: %w", err)
	}
	req.Header.Set(Header, r.Self)
	resp, err := r.Client.Do(req)
	if err != nil {
		r.fetches.WithLabelValues("error").Inc()
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			r.markDown(base)
		}
		r.Log.Warn("relay: the node that ingests the stage did not answer", "owner", node, "url", u, "err", err)
		return Object{}, fmt.Errorf("%w: node %s: %v", ErrUnreachable, node, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxObject+1))
	if err == nil && len(body) > maxObject {
		err = fmt.Errorf("larger than %d bytes", maxObject)
	}
	if err != nil {
		r.fetches.WithLabelValues("error").Inc()
		r.Log.Warn("relay: reading a file from the node that ingests the stage failed", "owner", node, "url", u, "err", err)
		return Object{}, fmt.Errorf("%w: node %s: read %s: %v", ErrUnreachable, node, u, err)
	}
	r.fetches.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	obj := Object{
		Status:       resp.StatusCode,
		Body:         body,
		ContentType:  resp.Header.Get("Content-Type"),
		CacheControl: resp.Header.Get("Cache-Control"),
		RetryAfter:   resp.Header.Get("Retry-After"),
	}
	if obj.Status == http.StatusOK {
		if immutable, age := keepFor(obj.CacheControl); immutable {
			r.cache.put(key, obj, time.Time{})
		} else if age > 0 {
			r.cache.put(key, obj, time.Now().Add(min(age, maxPlaylistAge)))
		}
	}
	return obj, nil
}

// keepFor reads Cache-Control: immutable (kept until evicted), or how long
// a shared cache may keep the answer (0: not at all).
func keepFor(cc string) (immutable bool, age time.Duration) {
	var public bool
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "immutable":
			immutable = true
		case d == "public":
			public = true
		case d == "no-store", d == "no-cache", d == "private":
			return false, 0
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.Atoi(d[len("max-age="):]); err == nil && n > 0 {
				age = time.Duration(n) * time.Second
			}
		}
	}
	if !public {
		return false, 0
	}
	return immutable && age > 0, age
}

func (r *Relay) isDown(base string) bool {
	r.downMu.Lock()
	defer r.downMu.Unlock()
	until, ok := r.down[base]
	if ok && time.Now().After(until) {
		delete(r.down, base)
		return false
	}
	return ok
}

func (r *Relay) markDown(base string) {
	r.downMu.Lock()
	defer r.downMu.Unlock()
	r.down[base] = time.Now().Add(downFor)
}
