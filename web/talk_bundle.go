package web

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/salon/salon/archive"
)

// DefaultMaxBundle is the default cap on a talk's bundle (web.Server.
// MaxBundleSize): the sum of the sizes of what it would hold. 16 GiB is a
// 2-hour talk at 15 Mbit/s with room to spare; a larger talk is refused
// with 413 before anything is sent, and its MP4 and slides stay
// downloadable one by one.
const DefaultMaxBundle = 16 << 30

// bundlePart is one file of a bundle: an object of the bucket, bytes made
// here, or the talk's MP4.
type bundlePart struct {
	name  string // below the bundle's folder; never from user input but cleaned
	key   string // the object, when the part is one
	body  []byte // the part's bytes, when made here
	mp4   *mp4Download
	size  int64
	mtime time.Time
}

// bundle is a talk's bundle planned: what goes in, what could not.
type bundle struct {
	talk    archive.Talk
	folder  string // "{id}/": every part lives below it
	parts   []bundlePart
	missing []string // one line each for README.txt: what is left out and why
	size    int64    // the sum of the parts' sizes
}

// handleBundle streams /talks/{id}/bundle.zip: the talk's MP4 (stored, not
// deflated: video does not compress), its slides and slide track, the chat as
// JSON and as a WebVTT track, the captions, talk.json and a README.txt that
// lists what is in and what is left out. The zip is written straight into the
// response (archive/zip; Zip64 when a file passes 4 GiB): no temporary file,
// no object held whole but the small ones. Hidden and do_not_record talks
// answer as the MP4 download does (404). A bundle whose known size passes
// MaxBundleSize is refused with 413 before anything is sent. A part missing
// from the bucket is left out and named in README.txt; a failure once the
// zip has started aborts the response (the client sees a broken download)
// and is logged.
func (s *replayHandlers) handleBundle(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.hideTalk(w, r, id) {
		return
	}
	ctx := r.Context()
	t, err := s.talks.Get(id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	sel, err := s.talks.Selection(ctx, id)
	if err != nil {
		s.talkError(w, err)
		return
	}
	if len(sel.Parts) == 0 {
		s.jsonError(w, http.StatusNotFound, "talk "+id+" has no recording yet")
		return
	}
	b, err := s.planBundle(ctx, t, sel)
	if err != nil {
		s.log.Warn("bundle: the archive storage did not answer", "talk", id, "error", err)
		s.jsonError(w, http.StatusBadGateway, "the archive storage did not answer; try again shortly")
		return
	}
	if b.size > s.maxBundle {
		s.jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"the bundle of talk %s would hold %s, over this server's limit of %s: download the MP4 (/talks/%s/download.mp4) and the slides one by one",
			id, humanBytes(b.size), humanBytes(s.maxBundle), id))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", `attachment; filename="`+id+`.zip"`)
	h.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	if s.stats != nil && b.hasMP4() {
		s.stats.MP4Download(id, s.clientKey(r))
	}
	started := time.Now()
	if err := s.writeBundle(ctx, w, b); err != nil {
		if errors.Is(err, errClientGone) {
			s.log.Info("bundle download stopped: the client went away", "talk", id)
			return
		}
		s.log.Error("bundle download aborted", "talk", id, "error", err)
		// The zip is cut short without its central directory, and the
		// connection is closed: the client sees a failed download, never a
		// zip that looks whole.
		panic(http.ErrAbortHandler)
	}
	s.log.Info("bundle downloaded", "talk", id, "bytes", b.size, "parts", len(b.parts), "left_out", len(b.missing), "took", time.Since(started).Round(time.Millisecond))
}

func (b *bundle) hasMP4() bool {
	for _, p := range b.parts {
		if p.mp4 != nil {
			return true
		}
	}
	return false
}

// planBundle lists what a talk's bundle holds, with the sizes known before
// anything is sent: one listing of talks/{id}/, one of each run the
// recording comes from, the init segment, and the chat (read whole: it is
// bounded by maxChatLog). Only a failed listing is an error.
func (s *replayHandlers) planBundle(ctx context.Context, t archive.Talk, sel archive.Selection) (*bundle, error) {
	b := &bundle{talk: t, folder: t.ID + "/"}
	objs, err := s.archive.List(ctx, "talks/"+t.ID+"/")
	if err != nil {
		return nil, fmt.Errorf("list talks/%s/: %w", t.ID, err)
	}
	stored := make(map[string]archive.ObjectInfo, len(objs))
	for _, o := range objs {
		stored[o.Key] = o
	}
	names := zipNames{}
	object := func(key, name, what string) {
		o, ok := stored[key]
		if !ok {
			b.missing = append(b.missing, name+": "+what+" is not in the archive")
			return
		}
		b.add(bundlePart{name: names.unique(name), key: key, size: o.Size, mtime: o.ModTime})
	}

	if err := s.planMP4Part(ctx, b, sel); err != nil {
		return nil, err
	}
	object(archive.TalkKey(t.ID), "talk.json", "the talk's metadata")
	for _, sl := range t.Slides {
		object(archive.SlideKey(t.ID, sl.Name), "slides/"+zipSafeName(sl.Name), "this slide file")
	}
	if len(t.SlideChanges) > 0 {
		object(archive.SlidesVTTKey(t.ID), "slides.vtt", "the slide track")
	}
	captions := "talks/" + t.ID + "/captions/"
	for _, o := range objs {
		if rest, ok := strings.CutPrefix(o.Key, captions); ok && path.Ext(rest) == ".vtt" && !strings.Contains(rest, "/") {
			b.add(bundlePart{name: names.unique("captions/" + zipSafeName(rest)), key: o.Key, size: o.Size, mtime: o.ModTime})
		}
	}
	s.planChat(ctx, b, sel)
	return b, nil
}

func (b *bundle) add(p bundlePart) {
	b.parts = append(b.parts, p)
	b.size += p.size
}

// planMP4Part adds the talk's MP4, its size from the listings of the runs
// it is cut from. A recording that cannot be made into an MP4 file, or
// with a segment gone from the bucket, is left out and said so.
func (s *replayHandlers) planMP4Part(ctx context.Context, b *bundle, sel archive.Selection) error {
	name := b.talk.ID + ".mp4"
	dl, err := planMP4(ctx, s.archive, sel)
	if err != nil {
		s.log.Warn("bundle leaves the MP4 out", "talk", b.talk.ID, "error", err)
		b.missing = append(b.missing, name+": the recording could not be made into an MP4 file ("+err.Error()+")")
		return nil
	}
	sizes := map[string]int64{}
	listed := map[string]bool{}
	size := int64(len(dl.header))
	var mtime time.Time
	for _, k := range dl.keys {
		dir := k[:strings.LastIndexByte(k, '/')+1]
		if !listed[dir] {
			listed[dir] = true
			objs, err := s.archive.List(ctx, dir)
			if err != nil {
				return fmt.Errorf("list %s: %w", dir, err)
			}
			for _, o := range objs {
				sizes[o.Key] = o.Size
				if o.ModTime.After(mtime) {
					mtime = o.ModTime
				}
			}
		}
		n, ok := sizes[k]
		if !ok {
			b.missing = append(b.missing, name+": segment "+k+" of the recording is not in the archive")
			return nil
		}
		size += n
	}
	if dl.skipped > 0 {
		b.missing = append(b.missing, fmt.Sprintf("%s: %d part(s) of the recording made with other codec parameters (they cannot share one MP4 file; the replay plays them)", name, dl.skipped))
	}
	b.add(bundlePart{name: name, mp4: dl, size: size, mtime: mtime})
	return nil
}

// planChat adds the chat as the replay page shows it (deleted messages left
// out), as chat.json and as the WebVTT track chat.vtt.
func (s *replayHandlers) planChat(ctx context.Context, b *bundle, sel archive.Selection) {
	msgs, err := s.talkMessages(ctx, b.talk)
	if err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			b.missing = append(b.missing, "chat.json, chat.vtt: no chat was archived for this talk")
		} else {
			s.log.Warn("bundle leaves the chat out", "talk", b.talk.ID, "error", err)
			b.missing = append(b.missing, "chat.json, chat.vtt: the chat could not be read ("+err.Error()+")")
		}
		return
	}
	timed := mediaTimed(msgs, &sel)
	shown := timed[:0]
	for _, m := range timed {
		if !m.Deleted {
			shown = append(shown, m)
		}
	}
	sort.SliceStable(shown, func(i, j int) bool { return shown[i].At < shown[j].At })
	body, err := json.MarshalIndent(map[string]any{"talk": b.talk.ID, "messages": shown}, "", "  ")
	if err != nil {
		b.missing = append(b.missing, "chat.json, chat.vtt: "+err.Error())
		return
	}
	now := time.Now()
	b.add(bundlePart{name: "chat.json", body: body, size: int64(len(body)), mtime: now})
	vtt := chatVTT(shown)
	b.add(bundlePart{name: "chat.vtt", body: vtt, size: int64(len(vtt)), mtime: now})
}

// writeBundle writes the zip. Small parts are deflated, the MP4 stored. A
// part gone from the bucket since it was listed is left out and named in
// README.txt, which comes last. Errors: errClientGone when the client
// stopped reading, else what failed.
func (s *replayHandlers) writeBundle(ctx context.Context, w io.Writer, b *bundle) error {
	cw := &clientWriter{w: w}
	zw := zip.NewWriter(cw)
	var included []bundlePart
	for _, p := range b.parts {
		err := s.writePart(ctx, zw, b.folder, p)
		if cw.err != nil {
			return errors.Join(errClientGone, cw.err)
		}
		if errors.Is(err, errPartGone) {
			b.missing = append(b.missing, p.name+": gone from the archive while the bundle was written")
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		included = append(included, p)
	}
	f, err := zw.CreateHeader(&zip.FileHeader{Name: b.folder + "README.txt", Method: zip.Deflate, Modified: time.Now()})
	if err == nil {
		_, err = io.WriteString(f, bundleReadme(b, included))
	}
	if err == nil {
		err = zw.Close()
	}
	if cw.err != nil {
		return errors.Join(errClientGone, cw.err)
	}
	return err
}

// errPartGone is an object listed by planBundle and gone when read.
var errPartGone = errors.New("the object is gone")

func (s *replayHandlers) writePart(ctx context.Context, zw *zip.Writer, folder string, p bundlePart) error {
	var src io.ReadCloser
	if p.key != "" {
		// Opened before the zip entry, so that a part gone since the
		// listing leaves no empty file behind.
		rc, _, err := s.archive.Get(ctx, p.key, 0, -1)
		if errors.Is(err, archive.ErrNotFound) {
			return errPartGone
		}
		if err != nil {
			return err
		}
		src = rc
		defer rc.Close()
	}
	fh := &zip.FileHeader{Name: folder + p.name, Method: zip.Deflate, Modified: p.mtime}
	if p.mp4 != nil {
		fh.Method = zip.Store
	}
	f, err := zw.CreateHeader(fh)
	if err != nil {
		return err
	}
	switch {
	case p.mp4 != nil:
		return p.mp4.writeTo(ctx, f, s.archive)
	case src != nil:
		n, err := io.Copy(f, src)
		if err == nil && n != p.size {
			err = fmt.Errorf("read %d bytes of %s, listed with %d: it changed while the bundle was written", n, p.key, p.size)
		}
		return err
	default:
		_, err := f.Write(p.body)
		return err
	}
}

// clientWriter remembers the first failed write to the client, so that a
// client that went away is told apart from a failure of the archive.
type clientWriter struct {
	w   io.Writer
	err error
}

func (c *clientWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// bundleReadme says what the bundle is, what it holds and what is left out.
func bundleReadme(b *bundle, included []bundlePart) string {
	var sb strings.Builder
	t := b.talk
	sb.WriteString(t.Title + "\n")
	if sp := speakerNames(t.Speakers, ", "); sp != "" {
		sb.WriteString(sp + "\n")
	}
	sb.WriteString("\nTalk " + t.ID + " on stage " + t.Stage)
	if t.Recording != nil {
		sb.WriteString(", recorded from " + t.Recording.Start.UTC().Format(time.RFC3339))
		if t.Recording.End != nil {
			sb.WriteString(" to " + t.Recording.End.UTC().Format(time.RFC3339))
		}
	}
	sb.WriteString(".\nMade by salon on " + time.Now().UTC().Format(time.RFC3339) + ".\n\nFiles:\n")
	for _, p := range included {
		sb.WriteString("  " + p.name + " (" + humanBytes(p.size) + ")" + partNote(p) + "\n")
	}
	if len(b.missing) > 0 {
		sb.WriteString("\nLeft out:\n")
		for _, m := range b.missing {
			sb.WriteString("  " + m + "\n")
		}
	}
	sb.WriteString("\nThe .vtt files are WebVTT tracks over the MP4's timeline: most players (VLC, mpv, browsers) open them beside the video.\n")
	return sb.String()
}

func partNote(p bundlePart) string {
	switch {
	case p.mp4 != nil:
		return ": the recording"
	case p.name == "talk.json":
		return ": title, speakers, schedule, recording window, slides"
	case p.name == "slides.vtt":
		return ": the slide shown at each moment of the video"
	case p.name == "chat.json":
		return ": the chat, each message with its position in the video (at, seconds)"
	case p.name == "chat.vtt":
		return ": the chat as subtitles"
	case strings.HasPrefix(p.name, "captions/"):
		return ": captions"
	}
	return ""
}

// humanBytes writes n for people: "1.5 GiB (1610612736 bytes)".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTP"[exp], n)
}
