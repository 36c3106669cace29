package archive

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var specCases = []struct {
	spec string
	dir  string
	s3   s3Spec
	err  string // substring of the error; "" means valid
}{
	{spec: "salon-data/archive", dir: "salon-data/archive"},
	{spec: "/var/lib/salon", dir: "/var/lib/salon"},
	{spec: "s3-local-dir", dir: "s3-local-dir"},
	{spec: "s3:http://127.0.0.1:9000/salon", s3: s3Spec{Endpoint: "127.0.0.1:9000", Bucket: "salon"}},
	{spec: "s3:https://s3.amazonaws.com/my-bucket/conf/2025/", s3: s3Spec{Secure: true, Endpoint: "s3.amazonaws.com", Bucket: "my-bucket", Prefix: "conf/2025"}},
	{spec: "s3:http://[::1]:9000/b-1/p", s3: s3Spec{Endpoint: "[::1]:9000", Bucket: "b-1", Prefix: "p"}},
	{spec: "s3:http://minio:9000/salon/", s3: s3Spec{Endpoint: "minio:9000", Bucket: "salon"}},
	{spec: "", err: "empty"},
	{spec: "s3://bucket/x", err: "scheme"},
	{spec: "https://host/bucket", err: "looks like a URL"},
	{spec: "s3:", err: "scheme"},
	{spec: "s3:bucket", err: "scheme"},
	{spec: "s3:ftp://host/bucket", err: "scheme"},
	{spec: "s3:http://host", err: "no bucket"},
	{spec: "s3:http://host/", err: "no bucket"},
	{spec: "s3:http:///bucket", err: "no host"},
	{spec: "s3:http://host:/bucket", err: "port"},
	{spec: "s3:http://key:secret@host/bucket", err: "credentials"},
	{spec: "s3:http://host/bucket?x=1", err: "query"},
	{spec: "s3:http://host/bucket#x", err: "fragment"},
	{spec: "s3:http://host/Bad_Bucket", err: "bucket"},
	{spec: "s3:http://host/ab", err: "bucket"},
	{spec: "s3:http://host/bucket/a//b", err: "prefix"},
	{spec: "s3:http://host/bucket/../b", err: "prefix"},
	{spec: "s3:http://host/bucket/a%00b", err: "prefix"},
	{spec: "s3:http://ho st/bucket", err: "URL"},
}

func TestOpen_parseSpec(t *testing.T) {
	for _, c := range specCases {
		t.Run(c.spec, func(t *testing.T) {
			dir, s3, err := parseSpec(c.spec)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("parseSpec(%q) = %v, want an error about %q", c.spec, err, c.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil || dir != c.dir || s3 != c.s3 {
				t.Fatalf("parseSpec(%q) = %q, %+v, %v; want %q, %+v", c.spec, dir, s3, err, c.dir, c.s3)
			}
		})
	}
}

func FuzzOpen_parseSpec(f *testing.F) {
	for _, c := range specCases {
		f.Add(c.spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		dir, s3, err := parseSpec(spec)
		if err != nil {
			if strings.Contains(spec, "@") && strings.Contains(spec, "://") {
				at := spec[strings.Index(spec, "://")+3:]
				if i := strings.IndexAny(at, "/?#"); i >= 0 {
					at = at[:i]
				}
				if i := strings.LastIndexByte(at, '@'); i > 0 && strings.Contains(err.Error(), at[:i]+"@") {
					t.Fatalf("error %q leaks userinfo %q", err, at[:i])
				}
			}
			return
		}
		if (dir == "") == (s3.Bucket == "") {
			t.Fatalf("parseSpec(%q) = dir %q and s3 %+v: want exactly one", spec, dir, s3)
		}
		if s3.Bucket != "" {
			if s3.Endpoint == "" || strings.ContainsAny(s3.Endpoint, "/?#@") {
				t.Fatalf("parseSpec(%q): endpoint %q", spec, s3.Endpoint)
			}
			if s3.Prefix != "" && validPath(s3.Prefix) != nil {
				t.Fatalf("parseSpec(%q): invalid prefix %q accepted", spec, s3.Prefix)
			}
		}
	})
}

func TestOpen(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	dir := filepath.Join(t.TempDir(), "archive")
	s, desc, err := Open(t.Context(), dir, "", env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*DirStore); !ok || !strings.Contains(desc, dir) {
		t.Fatalf("Open(%q) = %T, %q", dir, s, desc)
	}
	if _, _, err := Open(t.Context(), "s3:http://127.0.0.1:1/b-1", "", env(nil), nil); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("Open without credentials = %v, want an error naming AWS_ACCESS_KEY_ID", err)
	}
	// Port 1 on loopback is closed: a clear error, bounded by the context.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, _, err = Open(ctx, "s3:http://127.0.0.1:1/b-1", "", env(map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "topsecret"}), nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the bucket at http://127.0.0.1:1/b-1") || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("Open of an unreachable bucket = %v", err)
	}
}
