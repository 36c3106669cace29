package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"
)

// TestServer_StaticGzip: scripts and styles go gzipped to browsers that take
// gzip, and as they are to the others; both say Vary: Accept-Encoding and
// carry their own ETag.
func TestServer_StaticGzip(t *testing.T) {
	live, stages := newFakes()
	s, base := startServer(t, live, stages)
	js := s.assets.files["js/live.js"]
	tests := []struct {
		name, accept string
		gzipped      bool
	}{
		{"gzip", "gzip, deflate, br", true},
		{"gzip with q", "br;q=1.0, gzip;q=0.8", true},
		{"gzip refused", "gzip;q=0, identity", false},
		{"identity", "identity", false},
		{"none", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/static/js/live.js", nil)
			req.Header.Set("Accept-Encoding", tt.accept) // set, so the client does not decompress
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary %q", res.Header.Get("Vary"))
			}
			if got := res.Header.Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip %v", res.Header.Get("Content-Encoding"), tt.gzipped)
			}
			if tt.gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
				if res.Header.Get("ETag") != `"`+js.hash+`-gz"` {
					t.Errorf("ETag %q", res.Header.Get("ETag"))
				}
			} else if res.Header.Get("ETag") != `"`+js.hash+`"` {
				t.Errorf("ETag %q", res.Header.Get("ETag"))
			}
			if !bytes.Equal(body, js.data) {
				t.Fatalf("body is not live.js (%d bytes, want %d)", len(body), len(js.data))
			}
		})
	}
}
