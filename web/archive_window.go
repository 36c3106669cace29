package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/salon/salon/archive"
)

// archiveReader is the read side of the bucket; archive.Store satisfies it.
type archiveReader interface {
	objectGetter
	archiveStater
	objectLister
}

// objectGetter reads an object, or a range of it.
type objectGetter interface {
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, archive.ObjectInfo, error)
}

// archiveHandlers serve the bucket read-only (/archive/{key}) and a talk's
// MP4 (talk_download.go), and count replays and downloads (stats_hooks.go).
type archiveHandlers struct {
	archive archiveReader // optional: the routes answer 503 without it
	talks   talkSelector  // optional
	stats   fetchCounter  // optional: nothing is counted without it
	log     *slog.Logger
	*responder
	*hiddenTalks
	*audience
}

// fetchCounter counts replays and downloads.
type fetchCounter interface {
	Replay(talk string, viewer uint64)
	SlideDownload(talk, file string, viewer uint64)
	MP4Download(talk string, viewer uint64)
}

func (s *archiveHandlers) register(rt *router) {
	rt.handle("GET /archive/{key...}", rt.need(s.archive != nil, noArchive, s.handleArchive))
	rt.handle("GET /talks/{id}/download.mp4", s.handleTalkDownload)
}

// handleArchive serves the bucket read-only at /archive/{key}, with Range, so
// that the relative URIs of archived playlists resolve through salon exactly
// as they do on a static host or CDN in front of the bucket.
func (s *archiveHandlers) handleArchive(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	setCORS(w.Header())
	if err := archive.ValidKey(key); err != nil || !archiveKeyServed(key) {
		s.jsonError(w, http.StatusNotFound, "not found")
		return
	}
	// A talk's speaker.json holds the hash of its speaker token: never
	// public, and answered as if it did not exist.
	if archive.IsSpeakerKey(key) || s.hiddenArchiveKey(r, key) {
		s.jsonError(w, http.StatusNotFound, "no such object: "+logKey(key))
		return
	}
	info, err := s.archive.Stat(r.Context(), key)
	if err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			s.jsonError(w, http.StatusNotFound, "no such object: "+logKey(key))
			return
		}
		s.log.Warn("archive read failed", "key", logKey(key), "error", err)
		s.jsonError(w, http.StatusBadGateway, "the archive storage did not answer; try again shortly")
		return
	}
	h := w.Header()
	ct := info.ContentType
	if ct == "" || ct == "application/octet-stream" {
		ct = archive.ContentTypeFor(key)
	}
	h.Set("Content-Type", ct)
	if strings.HasPrefix(key, "sponsors/") {
		h.Set("Content-Security-Policy", logoCSP) // an SVG logo opened on its own
		h.Set("X-Content-Type-Options", "nosniff")
	}
	if immutableKey(key) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if info.ETag != "" {
		h.Set("ETag", `"`+strings.Trim(info.ETag, `"`)+`"`)
	}
	s.countArchiveFetch(r, key)
	limitRanges(r)
	rs := &storeSeeker{ctx: r.Context(), store: s.archive, key: key, size: info.Size}
	defer rs.Close()
	http.ServeContent(w, r, "", info.ModTime, rs)
}

// immutableKey tells whether an archived object never changes once written:
// stage segments and init segments. Playlists, talk.json and chat logs do.
func immutableKey(key string) bool {
	if !strings.HasPrefix(key, "stages/") {
		return false
	}
	switch path.Ext(key) {
	case ".m4s", ".mp4":
		return true
	}
	return false
}

// storeSeeker is an io.ReadSeeker over one stored object for
// http.ServeContent: a Seek only moves the offset, and the next Read opens a
// ranged Get from there, so a Range request reads only its bytes. A seek a
// little forward (at most rangeSkip) reads through the gap instead, so the
// ascending ranges of one request share one Get.
type storeSeeker struct {
	ctx   context.Context
	store archiveReader
	key   string
	size  int64
	off   int64
	rc    io.ReadCloser
}

func (s *storeSeeker) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if s.rc == nil {
		rc, _, err := s.store.Get(s.ctx, s.key, s.off, -1)
		if err != nil {
			return 0, err
		}
		s.rc = rc
	}
	n, err := s.rc.Read(p)
	s.off += int64(n)
	return n, err
}

func (s *storeSeeker) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = s.off + offset
	case io.SeekEnd:
		abs = s.size + offset
	}
	if abs < 0 {
		return 0, errors.New("seek before the start of the object")
	}
	if abs == s.off {
		return abs, nil
	}
	if s.rc != nil && abs > s.off && abs-s.off <= rangeSkip && abs <= s.size {
		n, err := io.CopyN(io.Discard, s.rc, abs-s.off)
		s.off += n
		if err == nil {
			return abs, nil
		}
	}
	s.Close()
	s.off = abs
	return abs, nil
}

func (s *storeSeeker) Close() error {
	if s.rc == nil {
		return nil
	}
	err := s.rc.Close()
	s.rc = nil
	return err
}
