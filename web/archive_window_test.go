package web

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/salon/salon/archive"
)

func TestServer_ArchiveWindow(t *testing.T) {
	store := &archive.DirStore{Root: t.TempDir()}
	if err := store.Initialize(); err != nil {
		t.Fatal(err)
	}
	seg := bytes.Repeat([]byte("0123456789"), 1000)
	ctx := context.Background()
	for key, body := range map[string][]byte{
		"stages/main/20261125T100000Z/7.m4s":      seg,
		"stages/main/20261125T100000Z/index.m3u8": []byte("#EXTM3U\n"),
		"talks/go-at-the-venue/index.m3u8":        []byte("#EXTM3U\n"),
		"stages/main/20261125T100000Z/init-0.mp4": []byte("init"),
	} {
		if err := store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), ""); err != nil {
			t.Fatal(err)
		}
	}
	_, base := startTalkServer(t, store)

	cases := []struct {
		name, path, rangeHdr string
		status               int
		body                 string
		ctype, cache         string
	}{
		{"segment", "/archive/stages/main/20261125T100000Z/7.m4s", "", 200, string(seg), "video/iso.segment", "immutable"},
		{"range", "/archive/stages/main/20261125T100000Z/7.m4s", "bytes=10-19", 206, "0123456789", "video/iso.segment", "immutable"},
		{"suffix range", "/archive/stages/main/20261125T100000Z/7.m4s", "bytes=-5", 206, "56789", "", ""},
		{"init", "/archive/stages/main/20261125T100000Z/init-0.mp4", "", 200, "init", "video/mp4", "immutable"},
		{"run playlist", "/archive/stages/main/20261125T100000Z/index.m3u8", "", 200, "#EXTM3U\n", "application/vnd.apple.mpegurl", "no-cache"},
		{"talk playlist", "/archive/talks/go-at-the-venue/index.m3u8", "", 200, "#EXTM3U\n", "application/vnd.apple.mpegurl", "no-cache"},
		{"missing", "/archive/talks/nope/index.m3u8", "", 404, "", "", ""},
		{"encoded dot dot", "/archive/talks/..%2f..%2fetc/passwd", "", 404, "", "", ""},
		{"bad range", "/archive/stages/main/20261125T100000Z/7.m4s", "bytes=999999-", 416, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.rangeHdr != "" {
				h["Range"] = tc.rangeHdr
			}
			r := do(t, "GET", base+tc.path, h)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.body != "" && r.body != tc.body {
				t.Fatalf("body %q…, want %q…", first(r.body, 20), first(tc.body, 20))
			}
			if tc.ctype != "" && r.header.Get("Content-Type") != tc.ctype {
				t.Fatalf("Content-Type %q, want %q", r.header.Get("Content-Type"), tc.ctype)
			}
			if tc.cache != "" && !strings.Contains(r.header.Get("Cache-Control"), tc.cache) {
				t.Fatalf("Cache-Control %q, want %q", r.header.Get("Cache-Control"), tc.cache)
			}
			if r.status < 300 && r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatal("no CORS header")
			}
		})
	}
}

func first(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
