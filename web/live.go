package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/salon/salon/cluster/relay"
	"github.com/salon/salon/ingest/stream"
)

// fileKind classifies a live file name; kindInvalid for anything that is not
// exactly "index.m3u8", "init-N.mp4", "N.m4s" or "N.M.m4s" (part M of
// segment N) with N and M decimal digits.
type fileKind int

const (
	kindInvalid fileKind = iota
	kindPlaylist
	kindInit
	kindSegment
	kindPart
)

// maxFileDigits bounds N in file names (uint64 fits in 20 digits);
// maxPartDigits bounds a part's number within its segment.
const (
	maxFileDigits = 20
	maxPartDigits = 6
)

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
	d, ok := strings.CutSuffix(name, ".m4s")
	if !ok {
		return kindInvalid
	}
	if isDigits(d) {
		return kindSegment
	}
	if seg, part, ok := strings.Cut(d, "."); ok && isDigits(seg) && isDigits(part) && len(part) <= maxPartDigits {
		return kindPart
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

func (s *liveHandlers) handlePlaylist(w http.ResponseWriter, r *http.Request) {
	s.serveLive(w, r, r.PathValue("stage"), "index.m3u8")
}

func (s *liveHandlers) handleSegment(w http.ResponseWriter, r *http.Request) {
	s.serveLive(w, r, r.PathValue("stage"), r.PathValue("file"))
}

// Cache lifetimes of live files. A playlist asked for without directives
// changes every part: not cached. A blocking request's answer (_HLS_msn) is
// valid for whoever asks for the same directives, so a short lifetime lets an
// HTTP cache or CDN collapse the identical requests of many viewers into one.
// Segments and parts never change.
const (
	cachePlaylist  = "no-cache"
	cacheBlocking  = "public, max-age=2"
	cacheImmutable = "public, max-age=31536000, immutable"
)

// llQuery holds the low-latency delivery directives of a playlist request
// (RFC 8216bis §6.2.5): _HLS_msn, _HLS_part (-1 when absent), _HLS_skip.
type llQuery struct {
	msn, part int64
	skip      bool
}

// parseLLQuery reads the delivery directives; a malformed one, or _HLS_part
// without _HLS_msn, is a client error (400) with a message saying which.
func parseLLQuery(q url.Values) (llQuery, error) {
	out := llQuery{msn: -1, part: -1}
	num := func(key string) (int64, error) {
		v := q.Get(key)
		if v == "" {
			return -1, nil
		}
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil || !isDigits(v) {
			return 0, fmt.Errorf("%s=%q is not a decimal integer", key, v)
		}
		return int64(n), nil
	}
	var err error
	if out.msn, err = num("_HLS_msn"); err != nil {
		return out, err
	}
	if out.part, err = num("_HLS_part"); err != nil {
		return out, err
	}
	if out.part >= 0 && out.msn < 0 {
		return out, errors.New("_HLS_part needs _HLS_msn (RFC 8216bis 6.2.5.2)")
	}
	switch v := q.Get("_HLS_skip"); v {
	case "":
	case "YES", "v2":
		out.skip = true
	default:
		return out, fmt.Errorf("_HLS_skip=%q: use YES or v2", v)
	}
	return out, nil
}

// serveLive answers GET and HEAD for one live file of a stage, or of one of
// its renditions when the request names one (live_rendition.go).
func (s *liveHandlers) serveLive(w http.ResponseWriter, r *http.Request, stage, name string) {
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
		s.jsonError(w, http.StatusNotFound, "no such file: live files are index.m3u8, init-N.mp4, N.m4s and N.M.m4s")
		return
	}
	var q llQuery
	if kind == kindPlaylist {
		var err error
		if q, err = parseLLQuery(r.URL.Query()); err != nil {
			s.jsonError(w, http.StatusBadRequest, "bad playlist request: "+err.Error())
			return
		}
	}
	if s.relayed(r, stage) {
		s.serveRelayed(w, r, stage, rendition, name, kind, q)
		return
	}
	if !s.stages.Known(stage) {
		s.jsonError(w, http.StatusNotFound, "unknown stage "+stage+": nobody has published to it since the server started")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), fileWait)
	defer cancel()
	var (
		data  []byte
		ctype string
	)
	ok = false // until the file is found
	if kind == kindPlaylist {
		var status int
		data, status = s.livePlaylist(ctx, stage, rendition, q)
		switch status {
		case http.StatusOK:
			ok, ctype = true, defaultContentType(kind)
		case http.StatusBadRequest:
			s.jsonError(w, http.StatusBadRequest, "_HLS_msn/_HLS_part is too far ahead of the live edge: reload the playlist without them")
			return
		case http.StatusServiceUnavailable:
			w.Header().Set("Cache-Control", "no-store")
			s.jsonError(w, http.StatusServiceUnavailable, "the segment or part asked for did not come in time: is the publisher still sending? Reload the playlist")
			return
		}
	} else {
		data, ctype, ok = s.liveFile(ctx, stage, rendition, name)
	}
	if !ok {
		switch {
		case kind == kindPlaylist && !s.stages.Live(stage):
			s.jsonError(w, http.StatusNotFound, "stage "+stage+" is offline")
		case kind == kindPlaylist:
			s.jsonError(w, http.StatusNotFound, "stage "+stage+" has no segment yet; retry in a few seconds")
		case kind == kindPart:
			s.jsonError(w, http.StatusNotFound, "no such part: parts are kept for the last few segments only; fetch the whole segment")
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
	switch {
	case kind == kindPlaylist:
		metricKind = "playlist"
		h.Set("Cache-Control", cachePlaylist)
		if q.msn >= 0 {
			h.Set("Cache-Control", cacheBlocking)
		}
		if r.Header.Get(relay.Header) == "" { // another node's viewers count there
			s.touchViewer(stage, r)
		}
	case kind == kindPart:
		metricKind = "part"
		h.Set("Cache-Control", cacheImmutable)
	default:
		h.Set("Cache-Control", cacheImmutable)
	}
	n := serveBytes(w, r, data)
	s.metrics.liveBytes(metricKind).Add(float64(n))
}

// serveBytes answers a request for data and returns the body bytes written.
// A plain GET, what every player sends for a live file but Safari's ranges,
// gets the body in one write: at each new part, every LL viewer's held
// requests return at once, and http.ServeContent would copy each part
// through a 32 KiB buffer in as many writes. HEAD, Range and conditional
// requests go through http.ServeContent.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte) int64 {
	rh := r.Header
	if r.Method != http.MethodGet || rh["Range"] != nil || rh["If-Range"] != nil ||
		rh["If-Match"] != nil || rh["If-None-Match"] != nil || rh["If-Unmodified-Since"] != nil {
		rec := &recorder{ResponseWriter: w}
		http.ServeContent(rec, r, "", time.Time{}, bytes.NewReader(data))
		return rec.bytes
	}
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write(data)
	return int64(n)
}

// handlePreflight answers CORS preflight for the live files.
func (s *liveHandlers) handlePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setCORS(h)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Range, "+viewerHeader)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}
