package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeOwners struct {
	mu               sync.Mutex
	node, url, claim string
	ok               bool
}

func (f *fakeOwners) Owner(string) (string, string, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.node, f.url, f.claim, f.ok
}

func (f *fakeOwners) set(node, url, claim string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.node, f.url, f.claim, f.ok = node, url, claim, true
}

type localStages map[string]bool

func (l localStages) Live(stage string) bool { return l[stage] }

// origin is an owner node's /live/ files: each path answers its body with
// the Cache-Control salon gives it; a request waits on gate when set.
type origin struct {
	srv   *httptest.Server
	hits  sync.Map // path?query → *atomic.Int64
	gate  chan struct{}
	relay atomic.Value // the X-Salon-Relay header last seen
}

func newOrigin(t *testing.T) *origin {
	o := &origin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := o.hits.LoadOrStore(r.URL.RequestURI(), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		o.relay.Store(r.Header.Get(Header))
		if o.gate != nil {
			<-o.gate
		}
		switch {
		case strings.HasSuffix(r.URL.Path, ".m3u8") && r.URL.RawQuery != "":
			w.Header().Set("Cache-Control", "public, max-age=2")
		case strings.HasSuffix(r.URL.Path, ".m3u8"):
			w.Header().Set("Cache-Control", "no-cache")
		case strings.HasSuffix(r.URL.Path, "404.m4s"):
			http.Error(w, `{"error":"no such segment"}`, http.StatusNotFound)
			return
		default:
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		w.Header().Set("Content-Type", "video/iso.segment")
		fmt.Fprintf(w, "body of %s", r.URL.RequestURI())
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) count(uri string) int64 {
	n, ok := o.hits.Load(uri)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func testRelay(t *testing.T, owners Owners, cacheBytes int64) *Relay {
	r := &Relay{Self: "b", Owners: owners, Local: localStages{"here": true}, CacheBytes: cacheBytes}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	return r
}

// Many viewers asking for one segment at once make one request to the
// owner; later ones are served from memory. A playlist without directives
// is fetched each time, a blocking reload's answer is kept briefly, and the
// owner's errors come back as it gave them.
func TestRelay_Fetch(t *testing.T) {
	o := newOrigin(t)
	owners := &fakeOwners{}
	owners.set("a", o.srv.URL, "claim-1")
	r := testRelay(t, owners, 0)
	if !r.Remote("main") || r.Remote("here") {
		t.Fatalf("Remote(main) = %v, Remote(here) = %v: want true, false (a local publish wins)", r.Remote("main"), r.Remote("here"))
	}

	o.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			obj, err := r.Fetch(context.Background(), "main", "7.m4s", "")
			if err == nil && (obj.Status != 200 || string(obj.Body) != "body of /live/main/7.m4s") {
				err = fmt.Errorf("got %d %q", obj.Status, obj.Body)
			}
			errs <- err
		})
	}
	for o.count("/live/main/7.m4s") == 0 {
		time.Sleep(time.Millisecond) // until the one request is at the owner
	}
	close(o.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	o.gate = nil
	if _, err := r.Fetch(context.Background(), "main", "7.m4s", ""); err != nil {
		t.Fatal(err)
	}
	if n := o.count("/live/main/7.m4s"); n != 1 {
		t.Errorf("51 fetches of one segment made %d requests to the owner, want 1", n)
	}
	if got := o.relay.Load(); got != "b" {
		t.Errorf("the owner saw %s = %v, want the relaying node's name", Header, got)
	}

	for range 3 {
		r.Fetch(context.Background(), "main", "index.m3u8", "")
		r.Fetch(context.Background(), "main", "720p/index.m3u8", "_HLS_msn=7&_HLS_part=2")
	}
	if n := o.count("/live/main/index.m3u8"); n != 3 {
		t.Errorf("3 plain playlist fetches made %d requests, want 3 (no-cache)", n)
	}
	if n := o.count("/live/main/720p/index.m3u8?_HLS_msn=7&_HLS_part=2"); n != 1 {
		t.Errorf("3 blocking reloads for the same part made %d requests, want 1 (max-age=2)", n)
	}

	obj, err := r.Fetch(context.Background(), "main", "404.m4s", "")
	if err != nil || obj.Status != 404 || !strings.Contains(string(obj.Body), "no such segment") {
		t.Errorf("a segment the owner does not have: %d %q %v", obj.Status, obj.Body, err)
	}
	r.Fetch(context.Background(), "main", "404.m4s", "")
	if n := o.count("/live/main/404.m4s"); n != 2 {
		t.Errorf("a 404 was kept: %d requests for two fetches", n)
	}

	// A new claim of the stage (another node, or the owner restarted) may
	// number other bytes with the same names: nothing kept is reused.
	owners.set("c", o.srv.URL, "claim-2")
	r.Fetch(context.Background(), "main", "7.m4s", "")
	if n := o.count("/live/main/7.m4s"); n != 2 {
		t.Errorf("after a new claim, the segment was fetched %d times in all, want 2", n)
	}
}

// An owner that does not answer is an error at once, never a hang; one
// that answers late leaves the viewer's request at its own deadline while
// the fetch goes on for the others.
func TestRelay_unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	owners := &fakeOwners{}
	owners.set("a", dead, "1")
	r := testRelay(t, owners, 0)
	start := time.Now()
	if _, err := r.Fetch(context.Background(), "main", "index.m3u8", ""); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("fetch from a closed port = %v, want ErrUnreachable", err)
	}
	if _, err := r.Fetch(context.Background(), "main", "index.m3u8", ""); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "a moment ago") {
		t.Fatalf("second fetch = %v, want ErrUnreachable without trying again", err)
	}
	if d := time.Since(start); d > dialTimeout {
		t.Errorf("two fetches from a dead owner took %v", d)
	}

	o := newOrigin(t)
	o.gate = make(chan struct{})
	defer close(o.gate)
	owners.set("a", o.srv.URL, "1")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.Fetch(ctx, "main", "index.m3u8", "_HLS_msn=9"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("fetch past the viewer's deadline = %v, want its context's error", err)
	}

	owners.set("a", "", "1")
	if _, err := r.Fetch(context.Background(), "main", "index.m3u8", ""); err == nil || !strings.Contains(err.Error(), "-node-url") {
		t.Fatalf("fetch from an owner without URL = %v, want an error naming -node-url", err)
	}
	owners.mu.Lock()
	owners.ok = false
	owners.mu.Unlock()
	if _, err := r.Fetch(context.Background(), "main", "index.m3u8", ""); !errors.Is(err, ErrNoOwner) {
		t.Fatalf("fetch with no lease = %v, want ErrNoOwner", err)
	}
}

func TestCache_evicts(t *testing.T) {
	c := newCache(8 << 10)
	body := make([]byte, 1000)
	now := time.Now()
	for i := range 20 {
		c.put(fmt.Sprint(i), Object{Body: body}, time.Time{})
	}
	if c.size() > 8<<10 {
		t.Fatalf("cache holds %d bytes, max %d", c.size(), 8<<10)
	}
	if _, ok := c.get("0", now); ok {
		t.Error("the oldest entry is still kept")
	}
	if _, ok := c.get("19", now); !ok {
		t.Error("the newest entry is gone")
	}
	c.put("big", Object{Body: make([]byte, 2<<10)}, time.Time{})
	if _, ok := c.get("big", now); ok {
		t.Error("an object over an eighth of the cache was kept")
	}
	c.put("brief", Object{Body: body[:10]}, now.Add(time.Second))
	if _, ok := c.get("brief", now.Add(2*time.Second)); ok {
		t.Error("an expired entry was served")
	}
}

func TestKeepFor(t *testing.T) {
	for _, tc := range []struct {
		cc        string
		immutable bool
		age       time.Duration
	}{
		{"public, max-age=31536000, immutable", true, 31536000 * time.Second},
		{"public, max-age=2", false, 2 * time.Second},
		{"no-cache", false, 0},
		{"max-age=2", false, 0}, // not public: for the viewer only
		{"public, max-age=2, no-store", false, 0},
		{"", false, 0},
		{"public, immutable", false, 0},
	} {
		im, age := keepFor(tc.cc)
		if im != tc.immutable || age != tc.age {
			t.Errorf("keepFor(%q) = %v %v, want %v %v", tc.cc, im, age, tc.immutable, tc.age)
		}
	}
}
