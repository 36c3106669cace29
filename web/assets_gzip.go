package web

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
)

// gzipped is a static file compressed once, on its first request by a
// browser that takes gzip, and kept: scripts and styles shrink to a third
// or less (hls.js from 520 kB to about 160 kB), which is most of the live
// page's weight on a phone's connection. Compressing lazily keeps salon's
// start (and every test's) free of the work for files nobody asks for.
type gzipped struct {
	once sync.Once
	data []byte // nil when compression does not pay
}

// compressible reports whether a content type is worth gzipping (text;
// images other than SVG, fonts and media are compressed already).
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "image/svg+xml") ||
		strings.HasPrefix(ctype, "application/json")
}

// gz returns the file's gzip encoding, or nil when it has none.
func (f *asset) gz() []byte {
	if !compressible(f.ctype) || len(f.data) < 1024 {
		return nil
	}
	f.gzip.once.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(f.data)
		zw.Close()
		if b.Len() < len(f.data)*9/10 {
			f.gzip.data = b.Bytes()
		}
	})
	return f.gzip.data
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip (and
// does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
