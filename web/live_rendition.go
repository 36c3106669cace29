package web

import (
	"context"
	"net/http"

	"github.com/salon/salon/ingest/stream"
)

// A stage with renditions serves a multivariant playlist at
// /live/{stage}/index.m3u8 over /live/{stage}/{rendition}/index.m3u8, each
// rendition's files beside its playlist; /live/{stage}/source/… is the
// source's media playlist and files.

// handleRenditionFile serves GET /live/{stage}/{rendition}/{file}.
func (s *liveHandlers) handleRenditionFile(w http.ResponseWriter, r *http.Request) {
	s.serveLive(w, r, r.PathValue("stage"), r.PathValue("file"))
}

// requestRendition reads the {rendition} of a rendition route: "" when the
// route has none (the stage's own files), ok false for an invalid name.
func requestRendition(r *http.Request) (rendition string, ok bool) {
	name := r.PathValue("rendition")
	switch {
	case name == "":
		return "", true
	case name == stream.SourceRendition:
		return name, true
	default:
		return name, stream.ValidRendition(name)
	}
}

// liveFile fetches a live file of the stage or of one of its renditions.
func (s *liveHandlers) liveFile(ctx context.Context, stage, rendition, name string) ([]byte, string, bool) {
	if rendition == "" {
		return s.live.File(ctx, stage, name)
	}
	return s.live.RenditionFile(ctx, stage, rendition, name)
}

// livePlaylist answers a playlist request of the stage or of one of its
// renditions, with its low-latency directives.
func (s *liveHandlers) livePlaylist(ctx context.Context, stage, rendition string, q llQuery) ([]byte, int) {
	if rendition == "" {
		return s.live.Playlist(ctx, stage, q.msn, q.part, q.skip)
	}
	return s.live.RenditionPlaylist(ctx, stage, rendition, q.msn, q.part, q.skip)
}
