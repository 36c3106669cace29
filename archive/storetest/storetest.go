// Package storetest is the contract test suite every archive.Store backend
// runs, and a helper that starts a real MinIO server for the S3 backend's
// tests.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
)

// Run runs the Store contract against fresh stores made by newStore, which is
// called once per subtest and must return an empty, initialized store.
func Run(t *testing.T, newStore func(t *testing.T) archive.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s archive.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Large", testLarge},
		{"FailedPut", testFailedPut},
		{"Overwrite", testOverwrite},
		{"Range", testRange},
		{"Stat", testStat},
		{"List", testList},
		{"Delete", testDelete},
		{"InvalidKey", testInvalidKey},
		{"Concurrent", testConcurrent},
		{"Conditional", testConditional},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, s archive.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(ctx(t), key, bytes.NewReader(data), int64(len(data)), archive.ContentTypeFor(key)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s archive.Store, key string, offset, length int64) ([]byte, archive.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(ctx(t), key, offset, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, offset, length, err)
	}
	b, err := readAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b, info
}

func readAll(rc io.ReadCloser) ([]byte, error) {
	defer rc.Close()
	return io.ReadAll(rc)
}

// onlyReader hides every interface but io.Reader, so backends cannot seek or
// ask for the length: the upload must stream.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testRoundTrip(t *testing.T, s archive.Store) {
	cases := []struct {
		name, key string
		data      []byte
		known     bool
	}{
		{"known size", "stages/main/20190421T013000Z/1.m4s", []byte("segment one"), true},
		{"unknown size", "stages/main/20190421T013000Z/index.m3u8", []byte("#EXTM3U\n"), false},
		{"empty known", "talks/x/empty.json", nil, true},
		{"empty unknown", "talks/x/empty.jsonl", nil, false},
		{"unicode key", "talks/x/slides/Résumé deck.pdf", []byte("%PDF-1.4"), true},
		{"no extension", "talks/x/blob", []byte{0, 1, 2, 255}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			size := int64(len(c.data))
			if !c.known {
				size = -1
			}
			ct := archive.ContentTypeFor(c.key)
			if err := s.Put(ctx(t), c.key, onlyReader{bytes.NewReader(c.data)}, size, ct); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, info := get(t, s, c.key, 0, -1)
			if !bytes.Equal(got, c.data) {
				t.Fatalf("Get = %q, want %q", got, c.data)
			}
			st, err := s.Stat(ctx(t), c.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			for _, i := range []archive.ObjectInfo{info, st} {
				if i.Key != c.key || i.Size != int64(len(c.data)) || i.ContentType != ct || i.ETag == "" || i.ModTime.IsZero() {
					t.Errorf("info = %+v, want key %q, size %d, type %q, an ETag and a time", i, c.key, len(c.data), ct)
				}
			}
			if info.ETag != st.ETag {
				t.Errorf("Get ETag %q != Stat ETag %q", info.ETag, st.ETag)
			}
		})
	}
	t.Run("reader longer than size", func(t *testing.T) {
		// Exactly size bytes are stored.
		if err := s.Put(ctx(t), "talks/x/cut.json", onlyReader{strings.NewReader("12345678")}, 4, ""); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if got, _ := get(t, s, "talks/x/cut.json", 0, -1); string(got) != "1234" {
			t.Fatalf("Get = %q, want %q", got, "1234")
		}
	})
	t.Run("ETag changes", func(t *testing.T) {
		const key = "talks/x/etag.json"
		var tags []string
		for _, v := range []string{"aaaa", "bbbb", "aaaa"} {
			put(t, s, key, []byte(v))
			st, err := s.Stat(ctx(t), key)
			if err != nil {
				t.Fatal(err)
			}
			tags = append(tags, st.ETag)
		}
		if tags[0] == tags[1] || tags[1] == tags[2] {
			t.Fatalf("ETags %q: each new content must change the ETag", tags)
		}
	})
}

// gen is a deterministic, non-seekable stream of n pseudo-random bytes.
type gen struct {
	n, x uint64
}

func newGen(n int64) *gen { return &gen{n: uint64(n), x: 0x9e3779b97f4a7c15} }

func (g *gen) Read(p []byte) (int, error) {
	if g.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(uint64(len(p)), g.n)]
	for i := range p {
		g.x ^= g.x << 13
		g.x ^= g.x >> 7
		g.x ^= g.x << 17
		p[i] = byte(g.x >> 32)
	}
	g.n -= uint64(len(p))
	return len(p), nil
}

func digest(t *testing.T, r io.Reader) ([]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return h.Sum(nil), n
}

func testLarge(t *testing.T, s archive.Store) {
	const size = 20 << 20
	want, _ := digest(t, newGen(size))
	for _, c := range []struct {
		name string
		size int64
	}{{"unknown size", -1}, {"known size", size}} {
		t.Run(c.name, func(t *testing.T) {
			key := "large/" + strings.ReplaceAll(c.name, " ", "-") + ".mp4"
			if err := s.Put(ctx(t), key, newGen(size), c.size, "video/mp4"); err != nil {
				t.Fatalf("Put: %v", err)
			}
			rc, info, err := s.Get(ctx(t), key, 0, -1)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			got, n := digest(t, rc)
			rc.Close()
			if n != size || info.Size != size || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes (info %d), digest match %v; want %d bytes", n, info.Size, bytes.Equal(got, want), size)
			}
			// A range deep inside the object, across the 16 MiB part boundary.
			const off = 16<<20 - 10
			part, _ := get(t, s, key, off, 20)
			exp := make([]byte, off+20)
			io.ReadFull(newGen(size), exp)
			if !bytes.Equal(part, exp[off:]) {
				t.Fatalf("range at %d = %x, want %x", off, part, exp[off:])
			}
		})
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("source broke")
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func testFailedPut(t *testing.T, s archive.Store) {
	c := ctx(t)
	if err := s.Put(c, "f/broken.m4s", &failingReader{n: 1000}, -1, ""); err == nil {
		t.Error("Put from a failing reader succeeded")
	}
	if err := s.Put(c, "f/short.m4s", onlyReader{strings.NewReader("12345")}, 10, ""); err == nil {
		t.Error("Put of 5 bytes announced as 10 succeeded")
	}
	cancelled, cancel := context.WithCancel(c)
	cancel()
	if err := s.Put(cancelled, "f/cancelled.m4s", strings.NewReader("x"), 1, ""); err == nil {
		t.Error("Put with a cancelled context succeeded")
	}
	for _, k := range []string{"f/broken.m4s", "f/short.m4s", "f/cancelled.m4s"} {
		if _, err := s.Stat(c, k); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("Stat(%q) after a failed Put = %v, want ErrNotFound", k, err)
		}
	}
	// Nothing of the failed writes (temp files included) is listed.
	if l, err := s.List(c, ""); err != nil || len(l) != 0 {
		t.Errorf("List after failed puts = %v, %v; want nothing", l, err)
	}
}

func testOverwrite(t *testing.T, s archive.Store) {
	const key = "talks/a/index.m3u8"
	a := bytes.Repeat([]byte("a"), 256<<10)
	b := []byte("bbb")
	put(t, s, key, a)
	c := ctx(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad error
	wg.Add(1)
	go func() { // readers must see one whole version, never a mix
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			rc, _, err := s.Get(c, key, 0, -1)
			if err != nil {
				bad = fmt.Errorf("Get during overwrites: %w", err)
				return
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				bad = fmt.Errorf("read during overwrites: %w", err)
				return
			}
			if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				bad = fmt.Errorf("read %d bytes that are neither version", len(got))
				return
			}
		}
	}()
	for i := range 10 {
		put(t, s, key, [][]byte{b, a}[i%2])
	}
	close(stop)
	wg.Wait()
	if bad != nil {
		t.Fatal(bad)
	}
	if got, _ := get(t, s, key, 0, -1); !bytes.Equal(got, a) {
		t.Fatalf("after overwrites: %d bytes, want the last version (%d bytes)", len(got), len(a))
	}
	put(t, s, key, b)
	if got, info := get(t, s, key, 0, -1); !bytes.Equal(got, b) || info.Size != 3 {
		t.Fatalf("after shrinking overwrite: %q (size %d), want %q", got, info.Size, b)
	}
}
