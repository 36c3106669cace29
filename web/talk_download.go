package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	dl, err := planMP4(r.Context(), s.archive, sel)
	if err != nil {
		s.mp4Error(w, s.log, id, sel, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Content-Disposition", `attachment; filename="`+id+`.mp4"`)
	h.Set("Cache-Control", "no-cache")
	if dl.skipped > 0 {
		h.Set("X-Salon-Parts-Skipped", strconv.Itoa(dl.skipped))
		s.log.Warn("download leaves out parts recorded with other codec parameters", "talk", id, "parts", dl.skipped)
	}
	if r.Method == http.MethodHead {
		return
	}
	if s.stats != nil {
		s.stats.MP4Download(id, s.clientKey(r))
	}
	if err := dl.writeTo(r.Context(), w, s.archive); err != nil && !errors.Is(err, errClientGone) {
		s.log.Warn("download interrupted", "talk", id, "error", err)
		// The connection is closed without the response's end, so the
		// client sees a failed download, never a short file that looks whole.
		panic(http.ErrAbortHandler)
	}
}

// errClientGone is a write to the client that failed: the client went away.
var errClientGone = errors.New("the client stopped reading")

// errMP4Header is a stored init segment that cannot be made an MP4 header.
var errMP4Header = errors.New("the stored init segment cannot be made into an MP4 header")

// mp4Download is a talk's recording planned as one MP4 file: its header and
// the segments whose fragments follow it. The download and the bundle
// (talk_bundle.go) both stream it.
type mp4Download struct {
	joiner  *archive.MP4Joiner
	header  []byte
	keys    []string // media segments, in order
	skipped int      // parts left out: recorded with other codec parameters
}

// planMP4 reads the first part's init segment (and each later part's, to
// compare) and lists the segments of the MP4 made from sel.
func planMP4(ctx context.Context, store objectGetter, sel archive.Selection) (*mp4Download, error) {
	init, err := readObject(ctx, store, sel.Parts[0].Init)
	if err != nil {
		return nil, err
	}
	dl := &mp4Download{}
	var dur time.Duration
	for i, p := range sel.Parts {
		if i > 0 && p.Init != sel.Parts[0].Init {
			other, err := readObject(ctx, store, p.Init)
			if err != nil || !bytes.Equal(other, init) {
				dl.skipped++
				continue
			}
		}
		for _, seg := range p.Segments {
			dl.keys = append(dl.keys, seg.Key)
			dur += seg.Duration
		}
	}
	dl.joiner = &archive.MP4Joiner{Init: init, Duration: dur}
	dl.header, err = dl.joiner.Header()
	if err == nil {
		err = dl.joiner.Initialize()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMP4Header, err)
	}
	return dl, nil
}

// mp4Error answers a failed planMP4.
func (s *responder) mp4Error(w http.ResponseWriter, log *slog.Logger, id string, sel archive.Selection, err error) {
	if errors.Is(err, errMP4Header) {
		log.Error("cannot build the MP4 download from a stored init segment", "talk", id, "key", sel.Parts[0].Init, "error", err)
		s.jsonError(w, http.StatusInternalServerError, "the stored recording cannot be made into an MP4 file; the replay still plays")
		return
	}
	s.jsonError(w, http.StatusBadGateway, "cannot read the recording from the archive: "+err.Error())
}

// writeTo writes the MP4 to w: the header, then the first segment read
// whole (its earliest decode time is the file's 0), then every other
// segment streamed box by box: the boxes before each mdat (styp, sidx,
// moof: small) are read and rebased, the mdat copied through. Nothing but
// the first segment is held whole, and the bucket's reads and the client's
// writes overlap, where reading each segment whole left the client idle
// during every read (on a latency-bound bucket the stream reached ~57 % of
// GetObject buffered). A failed write to w is errClientGone; any other error
// is the archive's or a stored segment's.
func (dl *mp4Download) writeTo(ctx context.Context, w io.Writer, store objectGetter) error {
	if _, err := w.Write(dl.header); err != nil {
		return errors.Join(errClientGone, err)
	}
	cw := &clientWriter{w: w}
	var head bytes.Buffer
	copyBuf := make([]byte, 256<<10)
	for i, k := range dl.keys {
		var err error
		if i == 0 {
			err = dl.writeWhole(ctx, cw, store, k, &head)
		} else {
			err = dl.writeStreamed(ctx, cw, store, k, &head, copyBuf)
		}
		if cw.err != nil {
			return errors.Join(errClientGone, cw.err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeWhole reads segment k into buf, rebases it and writes it.
func (dl *mp4Download) writeWhole(ctx context.Context, w io.Writer, store objectGetter, k string, buf *bytes.Buffer) error {
	buf.Reset()
	if err := readObjectInto(ctx, store, k, buf); err != nil {
		return fmt.Errorf("archive read failed: %w", err)
	}
	if err := dl.joiner.Fragment(buf.Bytes()); err != nil {
		return fmt.Errorf("stored segment %s cannot be read: %w", k, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// maxFragmentHead bounds the boxes before one mdat (a moof of a 2-second
// fragment of 60 fps video with audio is a few kB).
const maxFragmentHead = 4 << 20

// writeStreamed streams segment k: the boxes before each mdat are gathered
// in head, rebased and written, the mdat copied through copyBuf.
func (dl *mp4Download) writeStreamed(ctx context.Context, w io.Writer, store objectGetter, k string, head *bytes.Buffer, copyBuf []byte) error {
	rc, _, err := store.Get(ctx, k, 0, -1)
	if err != nil {
		return fmt.Errorf("archive read failed: %w", err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	head.Reset()
	bad := func(why string) error { return fmt.Errorf("stored segment %s cannot be read: %s", k, why) }
	for {
		hdr, err := br.Peek(8)
		if len(hdr) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("archive read of %s failed: %w", k, err)
		}
		size := uint64(binary.BigEndian.Uint32(hdr))
		typ := string(hdr[4:8])
		if size == 1 {
			if hdr, err = br.Peek(16); err != nil {
				return fmt.Errorf("archive read of %s failed: %w", k, err)
			}
			size = binary.BigEndian.Uint64(hdr[8:])
		}
		if typ != "mdat" {
			if size < 8 || size > maxFragmentHead || uint64(head.Len())+size > maxFragmentHead {
				return bad("a " + typ + " box of " + strconv.FormatUint(size, 10) + " bytes")
			}
			if _, err := io.CopyN(head, br, int64(size)); err != nil {
				return fmt.Errorf("archive read of %s failed: %w", k, err)
			}
			continue
		}
		if head.Len() > 0 {
			if err := dl.joiner.Fragment(head.Bytes()); err != nil {
				return fmt.Errorf("stored segment %s cannot be read: %w", k, err)
			}
			if _, err := w.Write(head.Bytes()); err != nil {
				return err
			}
			head.Reset()
		}
		var src io.Reader = br // size 0: the mdat runs to the end
		if size != 0 {
			if size < 8 {
				return bad("an mdat box of " + strconv.FormatUint(size, 10) + " bytes")
			}
			src = io.LimitReader(br, int64(size))
		}
		n, err := io.CopyBuffer(w, src, copyBuf)
		if err != nil {
			return err
		}
		if size != 0 && uint64(n) != size {
			return bad("it ends inside an mdat box")
		}
	}
	if head.Len() > 0 {
		// Boxes after the last mdat (none in the segments salon or ffmpeg
		// write): rebased when they hold a decode time, written either way.
		_ = dl.joiner.Fragment(head.Bytes())
		_, err := w.Write(head.Bytes())
		return err
	}
	return nil
}

// readObject reads a whole (small) object: a segment or an init segment.
func readObject(ctx context.Context, store objectGetter, key string) ([]byte, error) {
	var buf bytes.Buffer
	if err := readObjectInto(ctx, store, key, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readObjectInto appends a whole (small) object to buf.
func readObjectInto(ctx context.Context, store objectGetter, key string, buf *bytes.Buffer) error {
	rc, info, err := store.Get(ctx, key, 0, -1)
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
