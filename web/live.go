package web

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/salon/salon/ingest/stream"
)

// fileKind classifies a live file name; kindInvalid for anything that is not
// exactly "index.m3u8", "init-N.mp4" or "N.m4s" with N decimal digits.
type fileKind int

const (
	kindInvalid fileKind = iota
	kindPlaylist
	kindInit
	kindSegment
)

// maxFileDigits bounds N in file names (uint64 fits in 20 digits).
const maxFileDigits = 20

func classifyFile(name string) fileKind {
	if name == "index.m3u8" {
		return kindPlaylist
	}
	if n, ok := strings.CutPrefix(name, "init-"); ok {
		if d, ok := strings.CutSuffix(n, ".mp4"); ok && isDigits(d) {
			return kindInit
		}
		return kindInvalid
	}
	if d, ok := strings.CutSuffix(name, ".m4s"); ok && isDigits(d) {
		return kindSegment
	}
	return kindInvalid
}

func isDigits(s string) bool {
	if s == "" || len(s) > maxFileDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// defaultContentType is used when the live source does not name one.
func defaultContentType(k fileKind) string {
	switch k {
	case kindPlaylist:
		return "application/vnd.apple.mpegurl"
	case kindInit:
		return "video/mp4"
	default:
		return "video/iso.segment"
	}
}

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range")
}

func (s *Server) handlePlaylist(w http.ResponseWriter, r *http.Request) {
	s.serveLive(w, r, r.PathValue("stage"), "index.m3u8")
}

func (s *Server) handleSegment(w http.ResponseWriter, r *http.Request) {
	s.serveLive(w, r, r.PathValue("stage"), r.PathValue("file"))
}

// serveLive answers GET and HEAD for one live file of a stage, or of one of
// its renditions when the request names one (live_rendition.go).
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request, stage, name string) {
	setCORS(w.Header())
	if !stream.ValidStage(stage) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1-64 of a-z, 0-9 and -")
		return
	}
	rendition, ok := requestRendition(r)
	if !ok {
		s.jsonError(w, http.StatusNotFound, "no such rendition: rendition names are source or 1-32 of a-z, 0-9 and -")
		return
	}
	kind := classifyFile(name)
	if kind == kindInvalid {
		s.jsonError(w, http.StatusNotFound, "no such file: live files are index.m3u8, init-N.mp4 and N.m4s")
		return
	}
	if !s.Stages.Known(stage) {
		s.jsonError(w, http.StatusNotFound, "unknown stage "+stage+": nobody has published to it since the server started")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), fileWait)
	defer cancel()
	data, ctype, ok := s.liveFile(ctx, stage, rendition, name)
	if !ok {
		switch {
		case kind == kindPlaylist && !s.Stages.Live(stage):
			s.jsonError(w, http.StatusNotFound, "stage "+stage+" is offline")
		case kind == kindPlaylist:
			s.jsonError(w, http.StatusNotFound, "stage "+stage+" has no segment yet; retry in a few seconds")
		default:
			s.jsonError(w, http.StatusNotFound, "no such segment: it may have left the live window")
		}
		return
	}
	if ctype == "" {
		ctype = defaultContentType(kind)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	metricKind := "segment"
	if kind == kindPlaylist {
		metricKind = "playlist"
		h.Set("Cache-Control", "no-cache")
		s.touchViewer(stage, r)
	} else {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	// ServeContent answers HEAD and Range requests (Safari's native player
	// asks for ranges).
	rec := &recorder{ResponseWriter: w}
	http.ServeContent(rec, r, "", time.Time{}, bytes.NewReader(data))
	s.metrics.bytes.WithLabelValues(metricKind).Add(float64(rec.bytes))
}

// handlePreflight answers CORS preflight for the live files.
func (s *Server) handlePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setCORS(h)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Range, "+viewerHeader)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}
