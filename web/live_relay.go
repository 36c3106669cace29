package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/salon/salon/cluster/relay"
)

// relaySource serves the live files of stages that another node ingests
// (-nats); *relay.Relay satisfies it. Remote is asked at each request, so a
// stage that moves to this node is served from here at once.
type relaySource interface {
	// Remote reports whether another node ingests stage now.
	Remote(stage string) bool
	// Fetch returns a file below /live/{stage}/ as that node answered it,
	// with the canonical low-latency query; it returns when ctx ends.
	Fetch(ctx context.Context, stage, file, query string) (relay.Object, error)
}

// liveRelay is how another group serves its live files of a stage another
// node ingests the way liveHandlers does; *liveHandlers satisfies it.
type liveRelay interface {
	relayed(r *http.Request, stage string) bool
	serveRelayed(w http.ResponseWriter, r *http.Request, stage, rendition, name string, kind fileKind, q llQuery)
}

// relayed reports whether r is to be served from the node that ingests
// stage. A request that itself comes from another node's relay is always
// served from here, so that two nodes never send one back and forth.
func (s *liveHandlers) relayed(r *http.Request, stage string) bool {
	return s.relay != nil && r.Header.Get(relay.Header) == "" && s.relay.Remote(stage)
}

// encode writes the directives in one order, without anything else the
// request carried, so that every viewer's request for the same playlist is
// the same request to the owner (and to the relay's cache).
func (q llQuery) encode() string {
	var b []byte
	if q.msn >= 0 {
		b = append(b, "_HLS_msn="...)
		b = strconv.AppendInt(b, q.msn, 10)
	}
	if q.part >= 0 {
		b = append(b, "&_HLS_part="...)
		b = strconv.AppendInt(b, q.part, 10)
	}
	if q.skip {
		if len(b) > 0 {
			b = append(b, '&')
		}
		b = append(b, "_HLS_skip=YES"...)
	}
	return string(b)
}

// serveRelayed answers a live file of a stage another node ingests, as that
// node answered it. A node that does not answer is 503 with Retry-After:
// players retry, and a load balancer may send the retry elsewhere.
func (s *liveHandlers) serveRelayed(w http.ResponseWriter, r *http.Request, stage, rendition, name string, kind fileKind, q llQuery) {
	file := name
	if rendition != "" {
		file = rendition + "/" + name
	}
	ctx, cancel := context.WithTimeout(r.Context(), fileWait)
	defer cancel()
	query := ""
	if kind == kindPlaylist {
		query = q.encode()
	}
	obj, err := s.relay.Fetch(ctx, stage, file, query)
	h := w.Header()
	if err != nil {
		if errors.Is(err, relay.ErrNoOwner) {
			s.jsonError(w, http.StatusNotFound, "stage "+stage+" is offline")
			return
		}
		s.log.Debug("relayed live file not served", "stage", stage, "file", file, "err", err)
		h.Set("Retry-After", "1")
		h.Set("Cache-Control", "no-store")
		s.jsonError(w, http.StatusServiceUnavailable, "stage "+stage+" is ingested on another node, which did not answer in time; retry in a second")
		return
	}
	if obj.CacheControl != "" {
		h.Set("Cache-Control", obj.CacheControl)
	}
	if obj.RetryAfter != "" {
		h.Set("Retry-After", obj.RetryAfter)
	}
	ctype := obj.ContentType
	if ctype == "" {
		ctype = defaultContentType(kind)
	}
	h.Set("Content-Type", ctype)
	if obj.Status != http.StatusOK {
		// The owner's own answer (404 gone from the window, 400 too far
		// ahead, 503 not in time), its JSON error included.
		h.Set("Content-Length", strconv.Itoa(len(obj.Body)))
		w.WriteHeader(obj.Status)
		w.Write(obj.Body)
		return
	}
	metricKind := "segment"
	switch kind {
	case kindPlaylist:
		metricKind = "playlist"
		s.touchViewer(stage, r)
	case kindPart:
		metricKind = "part"
	}
	n := serveBytes(w, r, obj.Body)
	s.metrics.liveBytes(metricKind).Add(float64(n))
}
