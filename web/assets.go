package web

//go:generate bash vendor.sh

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// staticFS holds the page assets. "all:" keeps the package compiling when
// static/vendor (gitignored, filled by vendor.sh) is missing.
//
//go:embed all:static
var staticFS embed.FS

//go:embed templates/*.html
var templateFS embed.FS

// hlsVersion must match package-lock.json (a test checks it); vendor.sh puts
// the library under a versioned directory so it can be cached forever.
const hlsVersion = "1.7.4"

// hlsAsset is hls.js's path below /static/.
const hlsAsset = "vendor/hls.js-" + hlsVersion + "/hls.min.js"

// pdfjsVersion must match package-lock.json (a test checks it). pdf.js is an
// ES module; its worker is loaded by the module from pdfjsWorkerAsset.
const pdfjsVersion = "5.6.205"

const (
	pdfjsAsset       = "vendor/pdfjs-dist-" + pdfjsVersion + "/pdf.min.mjs"
	pdfjsWorkerAsset = "vendor/pdfjs-dist-" + pdfjsVersion + "/pdf.worker.min.mjs"
)

// assets serves the embedded static files with content hashes: pages link
// them as /static/PATH?v=HASH, which is cached for a year; a request
// without the current hash revalidates by ETag.
type assets struct {
	files    map[string]*asset // path below static/
	hasHLS   bool
	hasPDFJS bool
}

type asset struct {
	data  []byte
	hash  string // first 12 hex digits of the SHA-256
	ctype string
	gzip  gzipped // the gzip encoding, made on first use (assets_gzip.go)
}

func newAssets() (*assets, error) {
	a := &assets{files: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel := strings.TrimPrefix(p, "static/")
		a.files[rel] = &asset{data: data, hash: hex.EncodeToString(sum[:6]), ctype: contentTypeOf(rel)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	_, a.hasHLS = a.files[hlsAsset]
	a.hasPDFJS = a.files[pdfjsAsset] != nil && a.files[pdfjsWorkerAsset] != nil
	return a, nil
}

func contentTypeOf(p string) string {
	switch path.Ext(p) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs": // modules and module workers need a JavaScript type
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".woff2":
		return "font/woff2"
	case ".json":
		return "application/json"
	default:
		return "text/plain; charset=utf-8"
	}
}

// add serves data as static/rel too (made at start, like the browser's
// message catalogs: i18n_pages.go).
func (a *assets) add(rel string, data []byte) {
	sum := sha256.Sum256(data)
	a.files[rel] = &asset{data: data, hash: hex.EncodeToString(sum[:6]), ctype: contentTypeOf(rel)}
}

// url is the cache-busting URL of a static file, for templates.
func (a *assets) url(p string) string {
	f := a.files[p]
	if f == nil {
		return "/static/" + p
	}
	return "/static/" + p + "?v=" + f.hash
}

func (s *siteHandlers) handleStatic(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	f := s.assets.files[p]
	if f == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	data, etag := f.data, `"`+f.hash+`"`
	if z := f.gz(); z != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			data, etag = z, `"`+f.hash+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	if strings.HasPrefix(p, "vendor/") || r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}
