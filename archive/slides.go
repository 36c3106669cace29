package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/salon/salon/internal/textclean"
)

// Limits of slide files.
const (
	MaxSlides        = 20  // files per talk
	MaxSlideNameLen  = 120 // characters of a stored name, extension included
	maxSlideNameByte = 240 // bytes of a stored name: keys stay far below S3's 1,024
)

// Slide is one file of a talk's slides, listed in talk.json.
type Slide struct {
	Name       string    `json:"name"` // stored as talks/{id}/slides/{name}
	Size       int64     `json:"size"` // bytes
	Type       string    `json:"type"` // media type, from the content
	SHA256     string    `json:"sha256"`
	UploadedAt time.Time `json:"uploaded_at"`
	// UploadedBy is who uploaded it: "speaker" (with the speaker link) or
	// "organiser"; empty in talk.json written before it was kept.
	UploadedBy string `json:"uploaded_by,omitempty"`
}

// Who uploaded a slide file (Slide.UploadedBy).
const (
	UploadedBySpeaker   = "speaker"
	UploadedByOrganiser = "organiser"
)

// SlideKey is the key of a talk's slide file.
func SlideKey(id, name string) string { return "talks/" + id + "/slides/" + name }

// ErrTooLarge is returned (wrapped) for an upload over its size cap: 413.
var ErrTooLarge = errors.New("file too large")

// windowsReserved are characters that Windows refuses in file names: a
// downloaded deck keeps its name on every system.
const windowsReserved = `<>:"|?*`

// CleanSlideName makes a file name as sent by a browser safe to store and to
// download: no folders (a name with "/" or "\" is refused, not cut, so that
// "../../talks/other/talk.json" is an error a person sees), no control or
// invisible formatting characters (bidi overrides), Windows-reserved
// characters replaced by "_", no leading dots or spaces, NFC, at most
// MaxSlideNameLen characters with the extension kept. Letters of every
// script are kept. The error wraps ErrInvalid.
func CleanSlideName(raw string) (string, error) {
	if strings.ContainsAny(raw, `/\`) {
		return "", invalidf("file name %q: send the file's name without folders", truncateRunes(raw, 80))
	}
	// Dropping a character can let its neighbours compose, and cutting to
	// length can split them: repeat until nothing changes (twice, nearly
	// always), so that a clean name is its own clean name.
	name := strings.ToValidUTF8(raw, "_")
	for range 4 {
		next := cleanOnce(name)
		if next == name {
			break
		}
		name = next
	}
	if name == "" {
		return "", invalidf("file name %q has no usable characters; rename the file", truncateRunes(raw, 80))
	}
	return name, nil
}

func cleanOnce(raw string) string {
	var b strings.Builder
	for _, r := range raw {
		switch {
		case unicode.IsSpace(r): // tabs, newlines, no-break spaces
			b.WriteByte(' ')
		case textclean.Removed(r):
			// dropped: invisible, or able to disguise the name (salon's one
			// text rule, internal/textclean)
		case strings.ContainsRune(windowsReserved, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	name := strings.TrimRight(strings.TrimLeft(norm.NFC.String(b.String()), ". "), " ")
	if name == "" {
		return ""
	}
	ext := path.Ext(name)
	if utf8.RuneCountInString(ext) > 10 || ext == name {
		ext = ""
	}
	return fitName(strings.TrimSuffix(name, ext), ext)
}

// fitName joins stem and ext, cutting the stem so that the name stays within
// MaxSlideNameLen characters and maxSlideNameByte bytes.
func fitName(stem, ext string) string {
	for utf8.RuneCountInString(stem+ext) > MaxSlideNameLen || len(stem+ext) > maxSlideNameByte {
		_, n := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-n]
	}
	stem = strings.TrimRight(stem, " ")
	if stem == "" {
		stem = "slides"
	}
	return stem + ext
}

// slideName gives a clean name the extension of its type: "deck" and
// "deck.pdf.exe" holding a PDF become "deck.pdf" and "deck.pdf.exe.pdf", so
// that every stored name tells what it holds.
func slideName(clean string, st SlideType) string {
	if strings.EqualFold(path.Ext(clean), st.Ext) {
		return fitName(strings.TrimSuffix(clean, path.Ext(clean)), st.Ext)
	}
	return fitName(clean, st.Ext)
}

// validSlides checks talk.json's slides (untrusted when read back).
func validSlides(slides []Slide) error {
	if len(slides) > MaxSlides {
		return invalidf("slides: at most %d files, not %d", MaxSlides, len(slides))
	}
	seen := map[string]bool{}
	for i, s := range slides {
		st, ok := slideTypeOf(s.Type)
		clean, err := CleanSlideName(s.Name)
		switch {
		case err != nil || clean != s.Name || slideName(clean, st) != s.Name:
			return invalidf("slides[%d].name %q is not a clean file name", i, truncateRunes(s.Name, 80))
		case seen[s.Name]:
			return invalidf("slides[%d].name %q is listed twice", i, truncateRunes(s.Name, 80))
		case !ok:
			return invalidf("slides[%d].type %q is not a slide type", i, truncateRunes(s.Type, 80))
		case s.Size < 1:
			return invalidf("slides[%d].size must be positive", i)
		case len(s.SHA256) != 64 || strings.Trim(s.SHA256, "0123456789abcdef") != "":
			return invalidf("slides[%d].sha256 is not 64 lower-case hex digits", i)
		case s.UploadedBy != "" && s.UploadedBy != UploadedBySpeaker && s.UploadedBy != UploadedByOrganiser:
			return invalidf("slides[%d].uploaded_by must be %s or %s", i, UploadedBySpeaker, UploadedByOrganiser)
		}
		seen[s.Name] = true
	}
	return nil
}

// SlideUpload is one file for AddSlide.
type SlideUpload struct {
	// Name is the file's name as sent; AddSlide cleans it (CleanSlideName)
	// and gives it the extension of its type.
	Name string
	// Body is read once, to its end, straight into the Store.
	Body io.Reader
	// MaxSize caps the file (bytes); 0 is no cap. Over it, nothing is stored
	// and the error wraps ErrTooLarge.
	MaxSize int64
	// Check, when set, may refuse the change for the talk as it is before
	// anything is read or stored; its error is returned as is.
	Check func(Talk) error
	// By is who uploads it (UploadedBySpeaker or UploadedByOrganiser).
	By string
}

// AddSlide stores a slide file as talks/{id}/slides/{name} and lists it in
// the talk's talk.json, replacing a file of the same name. The type comes
// from the first bytes (sniffSlide) before anything is stored; the body then
// streams into Store.Put with its size unknown, through a SHA-256 and the
// size cap, so no copy of the file is held. A failed or refused upload
// stores nothing: Put is atomic, and a body over the cap makes Put fail.
//
// The upload itself runs without the library's write lock, so that a slow
// upload never holds up other changes; two uploads of the same name to the
// same talk at once are ErrConflict.
func (l *Library) AddSlide(ctx context.Context, id string, up SlideUpload) (Slide, error) {
	t, err := l.Get(id)
	if err != nil {
		return Slide{}, err
	}
	if up.Check != nil {
		if err := up.Check(t); err != nil {
			return Slide{}, err
		}
	}
	clean, err := CleanSlideName(up.Name)
	if err != nil {
		return Slide{}, err
	}
	st, head, err := sniffSlide(up.Body)
	if err != nil {
		return Slide{}, err
	}
	name := slideName(clean, st)
	if !slices.ContainsFunc(t.Slides, func(s Slide) bool { return s.Name == name }) && len(t.Slides) >= MaxSlides {
		return Slide{}, fmt.Errorf("talk %q has %d slide files already, the most it may have; delete one first: %w", id, MaxSlides, ErrConflict)
	}
	key := SlideKey(id, name)
	if !l.startUpload(key) {
		return Slide{}, fmt.Errorf("%q is being uploaded to talk %q already; wait for that upload to finish: %w", name, id, ErrConflict)
	}
	defer l.endUpload(key)

	sum := sha256.New()
	body := &capReader{r: io.MultiReader(bytes.NewReader(head), up.Body), max: up.MaxSize}
	if err := l.Store.Put(ctx, key, io.TeeReader(body, sum), -1, st.MediaType); err != nil {
		if body.over {
			return Slide{}, fmt.Errorf("the file is larger than the limit of %d MB: %w", up.MaxSize>>20, ErrTooLarge)
		}
		return Slide{}, fmt.Errorf("store %s: %w", key, err)
	}
	s := Slide{Name: name, Size: body.n, Type: st.MediaType, SHA256: hex.EncodeToString(sum.Sum(nil)), UploadedAt: l.Now().UTC(), UploadedBy: up.By}
	if err := l.listSlide(ctx, id, s); err != nil {
		l.unlistedUpload(ctx, id, name, key, err)
		return Slide{}, err
	}
	l.Log.Info("slide file stored", "talk", id, "name", name, "type", st.Label, "bytes", s.Size)
	return s, nil
}

// unlistedUpload cleans up after an upload whose listing in talk.json
// failed (listErr). A new name is deleted again, so that nothing unlisted is
// left. A replaced name is kept: talk.json still lists it, and deleting it
// would lose the talk's file; the object now holds the new upload while
// talk.json still has the old one's size and checksum until the next save.
func (l *Library) unlistedUpload(ctx context.Context, id, name, key string, listErr error) {
	l.writeMu.Lock()
	t, err := l.current(id)
	l.writeMu.Unlock()
	if err == nil && slices.ContainsFunc(t.Slides, func(s Slide) bool { return s.Name == name }) {
		l.Log.Warn("a replacing slide upload is stored but talk.json could not be updated: the file is kept, its size and checksum in talk.json are stale; upload it again when the archive answers",
			"talk", id, "name", name, "error", listErr)
		return
	}
	if derr := l.Store.Delete(ctx, key); derr != nil {
		l.Log.Warn("an upload that could not be listed is left in the archive; delete it by hand", "key", key, "error", derr)
	}
}

// listSlide adds or replaces s in the talk's slides and saves talk.json.
func (l *Library) listSlide(ctx context.Context, id string, s Slide) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	_, err := retrying(ctx, l, func() (struct{}, error) { return struct{}{}, l.listSlideLocked(ctx, id, s) })
	return err
}

// listSlideLocked is listSlide, writeMu held.

func (l *Library) listSlideLocked(ctx context.Context, id string, s Slide) error {
	t, err := l.current(id)
	if err != nil {
		return fmt.Errorf("talk %q was deleted during the upload: %w", id, err)
	}
	if i := slices.IndexFunc(t.Slides, func(o Slide) bool { return o.Name == s.Name }); i >= 0 {
		t.Slides[i] = s
	} else if len(t.Slides) >= MaxSlides {
		return fmt.Errorf("talk %q has %d slide files already, the most it may have; delete one first: %w", id, MaxSlides, ErrConflict)
	} else {
		t.Slides = append(t.Slides, s)
	}
	_, err = l.save(ctx, t, false)
	return err
}

// DeleteSlide removes a slide file from the talk's listing, then from the
// Store. check, when set, may refuse the change (its error is returned).
func (l *Library) DeleteSlide(ctx context.Context, id, name string, check func(Talk) error) error {
	return l.editChecked(ctx, id, check, func(t Talk) error {
		i := slices.IndexFunc(t.Slides, func(s Slide) bool { return s.Name == name })
		if i < 0 {
			return fmt.Errorf("talk %q has no slide file %q; GET /api/talks/%s lists its slides: %w", id, truncateRunes(name, 80), id, ErrNotFound)
		}
		t.Slides = slices.Delete(t.Slides, i, i+1)
		if _, err := l.save(ctx, t, false); err != nil {
			return err
		}
		if err := l.Store.Delete(ctx, SlideKey(id, name)); err != nil {
			return fmt.Errorf("%q is no longer listed, but the file remains in the archive: %w; delete %s by hand", name, err, SlideKey(id, name))
		}
		return nil
	})
}

func (l *Library) startUpload(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.uploading[key] {
		return false
	}
	l.uploading[key] = true
	return true
}

func (l *Library) endUpload(key string) {
	l.mu.Lock()
	delete(l.uploading, key)
	l.mu.Unlock()
}

// capReader counts what it passes and fails once more than max bytes
// (max > 0) came through, so that a Put reading it fails and stores nothing.
type capReader struct {
	r    io.Reader
	max  int64
	n    int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, ErrTooLarge
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		c.over = true
		return 0, ErrTooLarge
	}
	return n, err
}
