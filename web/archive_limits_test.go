package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/internal/testkit"
)

// countingArchive counts the reads that reach the store; fail makes every
// Stat fail as an unreachable bucket does.
type countingArchive struct {
	archive.Store
	gets, stats atomic.Int64
	fail        bool
}

func (c *countingArchive) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, archive.ObjectInfo, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key, off, n)
}

func (c *countingArchive) Stat(ctx context.Context, key string) (archive.ObjectInfo, error) {
	c.stats.Add(1)
	if c.fail {
		return archive.ObjectInfo{}, errors.New("dial tcp: connection refused")
	}
	return c.Store.Stat(ctx, key)
}

// lockedBuffer collects the server's log (web's tests share one name for it).
type lockedBuffer = testkit.LogBuffer

// startArchiveServer serves store at /archive on a real listener and keeps
// the server's log.
func startArchiveServer(t *testing.T, store archiveReader) (string, *lockedBuffer) {
	t.Helper()
	live, stages := newFakes()
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(logs, nil)), Archive: store,
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return "http://" + s.Addr(), logs
}

// TestServer_ArchiveRanges reproduces the range amplification of issue 13
// (finding 3): thousands of one-byte ranges in one request made one bucket
// read per range. Now such a request gets the whole object from one read,
// and a few ascending ranges share one read.
func TestServer_ArchiveRanges(t *testing.T) {
	dir := &archive.DirStore{Root: t.TempDir()}
	if err := dir.Initialize(); err != nil {
		t.Fatal(err)
	}
	seg := bytes.Repeat([]byte("0123456789"), 10_000)
	const key = "stages/main/20261125T100000Z/7.m4s"
	if err := dir.Put(context.Background(), key, bytes.NewReader(seg), int64(len(seg)), ""); err != nil {
		t.Fatal(err)
	}
	store := &countingArchive{Store: dir}
	base, _ := startArchiveServer(t, store)

	many := func(n int) string {
		var b strings.Builder
		b.WriteString("bytes=")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d-%d", i*10, i*10)
		}
		return b.String()
	}
	cases := []struct {
		name, rng string
		status    int
		maxGets   int64
		body      string // "" skips the check; "all" is the whole object
	}{
		{"5,500 ranges", many(5500), 200, 1, "all"},
		{"17 ranges", many(17), 200, 1, "all"},
		{"16 ascending ranges", many(16), 206, 1, ""},
		{"two ranges far apart", "bytes=0-1,90000-90001", 206, 2, ""},
		{"overlapping", "bytes=0-99,50-149", 200, 1, "all"},
		{"descending", "bytes=100-109,0-9", 200, 1, "all"},
		{"one range", "bytes=10-19", 206, 1, "0123456789"},
		{"suffix", "bytes=-5", 206, 1, "56789"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store.gets.Store(0)
			r := do(t, "GET", base+"/archive/"+key, map[string]string{"Range": tc.rng})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if g := store.gets.Load(); g > tc.maxGets {
				t.Fatalf("%d reads from the store, want at most %d", g, tc.maxGets)
			}
			switch tc.body {
			case "":
			case "all":
				if r.body != string(seg) {
					t.Fatalf("body of %d bytes, want the whole object (%d)", len(r.body), len(seg))
				}
			default:
				if r.body != tc.body {
					t.Fatalf("body %q, want %q", r.body, tc.body)
				}
			}
			if tc.status == 206 && strings.Contains(tc.rng, ",") && !strings.HasPrefix(r.header.Get("Content-Type"), "multipart/byteranges") {
				t.Fatalf("Content-Type %q for several ranges", r.header.Get("Content-Type"))
			}
		})
	}
}

// TestServer_ArchiveHostileKeys reproduces finding 7 of issue 13: a temp
// file's name or a very long key made salon answer 502 and log the whole
// key. Such keys are 404 without a store read; a store failure logs the key
// cut short.
func TestServer_ArchiveHostileKeys(t *testing.T) {
	dir := &archive.DirStore{Root: t.TempDir()}
	if err := dir.Initialize(); err != nil {
		t.Fatal(err)
	}
	store := &countingArchive{Store: dir}
	base, logs := startArchiveServer(t, store)
	long := strings.Repeat("k", 300)
	for _, path := range []string{
		"/archive/.salon-tmp-x",
		"/archive/stages/main/.salon-tmp-123",
		"/archive/talks/x/" + long,
		"/archive/" + long,
		"/archive/other/thing",
	} {
		r := do(t, "GET", base+path, nil)
		if r.status != 404 {
			t.Errorf("GET %s = %d, want 404", first(path, 40), r.status)
		}
	}
	if n := store.stats.Load() + store.gets.Load(); n != 0 {
		t.Fatalf("%d store reads for keys salon never writes", n)
	}
	if strings.Contains(logs.String(), long[:200]) {
		t.Fatalf("the long key reached the log:\n%s", logs.String())
	}

	// A key of the layout that the bucket fails to read: 502, key cut short.
	store.fail = true
	seg := strings.Repeat("s", 250)
	key := "stages/" + seg + "/" + seg + "/" + seg + "/1.m4s"
	if r := do(t, "GET", base+"/archive/"+key, nil); r.status != 502 {
		t.Fatalf("store failure: %d, want 502", r.status)
	}
	out := logs.String()
	if !strings.Contains(out, "archive read failed") || strings.Contains(out, seg[:200]+"/") {
		t.Fatalf("log of a failed read:\n%s", out)
	}
}
