package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/salon/salon/archive"
)

// talkSelector reads a talk and what its replay is cut from.
type talkSelector interface {
	Get(id string) (archive.Talk, error)
	// Selection is what the talk's replay is cut from (for the MP4 download).
	Selection(ctx context.Context, id string) (archive.Selection, error)
}

// handleTalkDownload streams a talk's recording as one fragmented MP4: the
// init segment, then every media segment of the cut — no transcoding, no
// temporary file. archive.MP4Joiner moves the fragments' decode times so that
// the file starts at 0, and writes its length into the header. Parts recorded
// with other codec parameters (a different init segment) cannot share one
// file and are left out; the header X-Salon-Parts-Skipped says how many.
func (s *archiveHandlers) handleTalkDownload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.talks == nil || s.archive == nil {
		s.jsonError(w, http.StatusServiceUnavailable, "the replay library is not configured")
		return
	}
	if s.hideTalk(w, r, id) {
		return
	}
	sel, err := s.talks.Selection(r.Context(), id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	if len(sel.Parts) == 0 {
		s.jsonError(w, http.StatusNotFound, "talk "+id+" has no recording yet")
		return
	}
	ctx := r.Context()
	init, err := s.readObject(ctx, sel.Parts[0].Init)
	if err != nil {
		s.jsonError(w, http.StatusBadGateway, "cannot read the recording from the archive: "+err.Error())
		return
	}
	var keys []string
	var dur time.Duration
	skipped := 0
	for i, p := range sel.Parts {
		if i > 0 && p.Init != sel.Parts[0].Init {
			other, err := s.readObject(ctx, p.Init)
			if err != nil || !bytes.Equal(other, init) {
				skipped++
				continue
			}
		}
		for _, seg := range p.Segments {
			keys = append(keys, seg.Key)
			dur += seg.Duration
		}
	}
	joiner := &archive.MP4Joiner{Init: init, Duration: dur}
	header, err := joiner.Header()
	if err == nil {
		err = joiner.Initialize()
	}
	if err != nil {
		s.log.Error("cannot build the MP4 download from a stored init segment", "talk", id, "key", sel.Parts[0].Init, "error", err)
		s.jsonError(w, http.StatusInternalServerError, "the stored recording cannot be made into an MP4 file; the replay still plays")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Content-Disposition", `attachment; filename="`+id+`.mp4"`)
	h.Set("Cache-Control", "no-cache")
	if skipped > 0 {
		h.Set("X-Salon-Parts-Skipped", strconv.Itoa(skipped))
		s.log.Warn("download leaves out parts recorded with other codec parameters", "talk", id, "parts", skipped)
	}
	if r.Method == http.MethodHead {
		return
	}
	if s.stats != nil {
		s.stats.MP4Download(id, s.clientKey(r))
	}
	if _, err := w.Write(header); err != nil {
		return
	}

	// Read each segment into one reused buffer, rebase it in place and write
	// it: on this machine (MinIO, salon and the client on 2 cores) a
	// prefetching goroutine that buffers whole segments was slower (51 % of
	// GetObject) than copying (62 %), because the relay is bound by CPU, not
	// by request latency.
	var buf bytes.Buffer
	for _, k := range keys {
		buf.Reset()
		if err := s.readObjectInto(ctx, k, &buf); err != nil {
			s.log.Warn("download interrupted: archive read failed", "talk", id, "error", err)
			return
		}
		if err := joiner.Fragment(buf.Bytes()); err != nil {
			s.log.Warn("download interrupted: a stored segment cannot be read", "talk", id, "key", k, "error", err)
			return
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
	}
}

// readObject reads a whole (small) object: a segment or an init segment.
func (s *archiveHandlers) readObject(ctx context.Context, key string) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.readObjectInto(ctx, key, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readObjectInto appends a whole (small) object to buf.
func (s *archiveHandlers) readObjectInto(ctx context.Context, key string, buf *bytes.Buffer) error {
	rc, info, err := s.archive.Get(ctx, key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	buf.Grow(int(max(info.Size, 0)) + bytes.MinRead)
	if _, err := buf.ReadFrom(rc); err != nil {
		return errors.Join(errors.New("read "+key), err)
	}
	return nil
}
