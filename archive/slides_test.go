package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/salon/salon/archive/slidetest"
)

func sniffCases() []struct {
	name string
	data []byte
	want SlideType // zero: refused
} {
	pdf := slidetest.PDF(1, "x")
	return []struct {
		name string
		data []byte
		want SlideType
	}{
		{"pdf", pdf, SlidePDF},
		{"pdf header only", []byte("%PDF-1.4\n"), SlidePDF},
		{"png named pdf", slidetest.PNG, SlideType{}},
		{"pdf magic late", append([]byte("junk\n"), pdf...), SlideType{}},
		{"short", []byte("%PD"), SlideType{}},
		{"pptx", slidetest.PPTX(), SlidePPTX},
		{"docx", slidetest.DOCX(), SlideType{}},
		{"odp", slidetest.ODF("application/vnd.oasis.opendocument.presentation"), SlideODP},
		{"odt", slidetest.ODF("application/vnd.oasis.opendocument.text"), SlideType{}},
		{"keynote", slidetest.Keynote(100), SlideKeynote},
		{"keynote after a big preview", slidetest.Keynote(200 << 10), SlideKeynote},
		{"plain zip", slidetest.Zip(slidetest.Entry{Name: "a.txt", Data: []byte("hello")}), SlideType{}},
		{"zip header only", []byte("PK\x03\x04"), SlideType{}},
		{"truncated pptx", slidetest.PPTX()[:40], SlideType{}},
		{"html", []byte("<!doctype html><script>alert(1)</script>"), SlideType{}},
	}
}

func TestSniffSlide(t *testing.T) {
	for _, c := range sniffCases() {
		t.Run(c.name, func(t *testing.T) {
			// One byte at a time: the sniffer must not rely on big reads.
			st, head, err := sniffSlide(iotest.OneByteReader(bytes.NewReader(c.data)))
			if c.want == (SlideType{}) {
				if !errors.Is(err, ErrUnsupportedType) {
					t.Fatalf("sniff = %v, %v; want ErrUnsupportedType", st, err)
				}
				return
			}
			if err != nil || st != c.want {
				t.Fatalf("sniff = %v, %v; want %v", st, err, c.want)
			}
			if !bytes.HasPrefix(c.data, head) {
				t.Fatal("the returned head is not the start of the file")
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		if _, _, err := sniffSlide(bytes.NewReader(nil)); !errors.Is(err, ErrEmpty) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("sniff of nothing = %v, want ErrEmpty and ErrInvalid", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		if _, _, err := sniffSlide(iotest.ErrReader(io.ErrClosedPipe)); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("sniff = %v, want the reader's error", err)
		}
	})
}

func FuzzSniffHead(f *testing.F) {
	for _, c := range sniffCases() {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, _ := sniffHead(b, true)
		if st != (SlideType{}) {
			if _, ok := slideTypeOf(st.MediaType); !ok {
				t.Fatalf("sniffHead returned an unknown type %v", st)
			}
		}
		if st == SlidePDF && !bytes.HasPrefix(b, []byte("%PDF-")) {
			t.Fatal("PDF without the magic")
		}
	})
}

func TestCleanSlideName(t *testing.T) {
	long := strings.Repeat("ü", 200) + ".pdf"
	tests := []struct{ in, want string }{
		{"deck.pdf", "deck.pdf"},
		{"Vortrag über Ströme.pdf", "Vortrag über Ströme.pdf"},
		{"日本語のスライド.pptx", "日本語のスライド.pptx"},
		{"  .hidden.pdf ", "hidden.pdf"},
		{"a\x00b\x1fc\u202e.pdf", "abc.pdf"},
		{"what?<now>:*|\".pdf", "what__now_____.pdf"},
		{"tab\there.pdf", "tab here.pdf"},
		{"bad\xffutf8.pdf", "bad_utf8.pdf"},
		{"e\u0301.pdf", "é.pdf"}, // NFC
		{long, strings.Repeat("ü", MaxSlideNameLen-4) + ".pdf"},
		{strings.Repeat("x", 300), strings.Repeat("x", MaxSlideNameLen)},
		{"....", ""},
		{"", ""},
		{"../../talks/other/talk.json", ""},
		{`C:\Users\ada\deck.pdf`, ""},
		{"a/b.pdf", ""},
	}
	for _, c := range tests {
		got, err := CleanSlideName(c.in)
		if c.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CleanSlideName(%q) = %q, %v; want ErrInvalid", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("CleanSlideName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func FuzzCleanSlideName(f *testing.F) {
	for _, s := range []string{"deck.pdf", "../../talks/other/talk.json", "a\x00b", "日本語.pptx", ".salon-tmp-x", "…", "x.toolongextension"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := CleanSlideName(raw)
		if err != nil {
			return
		}
		if err := ValidKey(SlideKey("t", name)); err != nil {
			t.Fatalf("CleanSlideName(%q) = %q, not a valid key part: %v", raw, name, err)
		}
		if strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\"+windowsReserved) ||
			utf8.RuneCountInString(name) > MaxSlideNameLen || len(name) > maxSlideNameByte {
			t.Fatalf("CleanSlideName(%q) = %q", raw, name)
		}
		if again, err := CleanSlideName(name); err != nil || again != name {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, name, again, err)
		}
		for _, st := range slideTypes {
			n := slideName(name, st)
			if !strings.HasSuffix(n, st.Ext) || len(n) > maxSlideNameByte {
				t.Fatalf("slideName(%q, %s) = %q", name, st.Ext, n)
			}
			if c, err := CleanSlideName(n); err != nil || c != n {
				t.Fatalf("slideName(%q, %s) = %q is not clean", name, st.Ext, n)
			}
		}
	})
}

func TestSlideName_Extension(t *testing.T) {
	tests := []struct {
		in   string
		st   SlideType
		want string
	}{
		{"deck.pdf", SlidePDF, "deck.pdf"},
		{"deck.PDF", SlidePDF, "deck.pdf"},
		{"deck", SlidePDF, "deck.pdf"},
		{"deck.pdf", SlidePPTX, "deck.pdf.pptx"},
		{"deck.exe", SlidePDF, "deck.exe.pdf"},
		{"Keynote.key", SlideKeynote, "Keynote.key"},
	}
	for _, c := range tests {
		if got := slideName(c.in, c.st); got != c.want {
			t.Errorf("slideName(%q, %s) = %q, want %q", c.in, c.st.Label, got, c.want)
		}
	}
}

// storedFiles lists every regular file below a DirStore's root, temp files
// included: a failed upload must leave none.
func storedFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestLibrary_AddSlide(t *testing.T) {
	root := t.TempDir()
	s := &DirStore{Root: root}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	l := newLibrary(t, s)
	ctx := t.Context()
	tk, err := l.Create(ctx, sampleTalk("Slides"))
	if err != nil {
		t.Fatal(err)
	}
	only := []string{"talks/slides/talk.json"}
	checkFiles := func(want ...string) {
		t.Helper()
		got := storedFiles(t, root)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("files in the archive: %v, want %v", got, want)
		}
	}
	checkFiles(only...)

	pdf := slidetest.PDF(3, "deck")
	sl, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "Mein Vortrag", Body: bytes.NewReader(pdf), MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	if sl.Name != "Mein Vortrag.pdf" || sl.Size != int64(len(pdf)) || sl.Type != "application/pdf" || sl.SHA256 != hex.EncodeToString(sum[:]) || sl.UploadedAt.IsZero() {
		t.Fatalf("slide %+v", sl)
	}
	rc, info, err := s.Get(ctx, SlideKey(tk.ID, sl.Name), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, pdf) || info.ContentType != "application/pdf" {
		t.Fatalf("stored %d bytes of %s", len(got), info.ContentType)
	}

	refusals := []struct {
		name string
		up   SlideUpload
		want error
	}{
		{"png as pdf", SlideUpload{Name: "x.pdf", Body: bytes.NewReader(slidetest.PNG)}, ErrUnsupportedType},
		{"empty", SlideUpload{Name: "x.pdf", Body: bytes.NewReader(nil)}, ErrEmpty},
		{"path", SlideUpload{Name: "../../talks/other/talk.json", Body: bytes.NewReader(pdf)}, ErrInvalid},
		{"over the cap", SlideUpload{Name: "big.pdf", Body: io.MultiReader(bytes.NewReader(pdf), bytes.NewReader(make([]byte, 3<<20))), MaxSize: 2 << 20}, ErrTooLarge},
		{"check", SlideUpload{Name: "x.pdf", Body: bytes.NewReader(pdf), Check: func(Talk) error { return errors.New("refused") }}, nil},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := l.AddSlide(ctx, tk.ID, r.up)
			if err == nil || r.want != nil && !errors.Is(err, r.want) {
				t.Fatalf("AddSlide = %v, want %v", err, r.want)
			}
			checkFiles("talks/slides/slides/Mein Vortrag.pdf", "talks/slides/talk.json")
		})
	}

	// Replace, add another type, reload from the store.
	pdf2 := slidetest.PDF(1, "v2")
	if _, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "Mein Vortrag.pdf", Body: bytes.NewReader(pdf2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "deck.pptx", Body: bytes.NewReader(slidetest.PPTX())}); err != nil {
		t.Fatal(err)
	}
	fresh := newLibrary(t, s)
	ft, err := fresh.Get(tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ft.Slides) != 2 || ft.Slides[0].Size != int64(len(pdf2)) || ft.Slides[1].Name != "deck.pptx" || ft.Slides[1].Type != SlidePPTX.MediaType {
		t.Fatalf("slides after reload: %+v", ft.Slides)
	}

	// Delete.
	if err := l.DeleteSlide(ctx, tk.ID, "nope.pdf", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of a missing file = %v", err)
	}
	if err := l.DeleteSlide(ctx, tk.ID, "deck.pptx", func(Talk) error { return errors.New("no") }); err == nil {
		t.Fatal("a refused delete succeeded")
	}
	if err := l.DeleteSlide(ctx, tk.ID, "deck.pptx", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Get(tk.ID); len(got.Slides) != 1 {
		t.Fatalf("slides after delete: %+v", got.Slides)
	}
	checkFiles("talks/slides/slides/Mein Vortrag.pdf", "talks/slides/talk.json")

	// The cap on files per talk: one is listed; 19 more fit, the 21st not.
	for i := 2; i <= MaxSlides+1; i++ {
		_, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: strings.Repeat("n", i), Body: bytes.NewReader(pdf)})
		if i <= MaxSlides && err != nil {
			t.Fatal(err)
		}
		if i > MaxSlides && !errors.Is(err, ErrConflict) {
			t.Fatalf("file %d: %v, want ErrConflict", i, err)
		}
	}
	// Replacing a listed file still works at the cap.
	if _, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "nn.pdf", Body: bytes.NewReader(pdf)}); err != nil {
		t.Fatalf("replace at the cap: %v", err)
	}
}

// TestLibrary_AddSlideConcurrentSameName: a second upload of a name that is
// being uploaded is refused, not interleaved.
func TestLibrary_AddSlideConcurrentSameName(t *testing.T) {
	s := &DirStore{Root: t.TempDir()}
	l := newLibrary(t, s)
	ctx := t.Context()
	tk, err := l.Create(ctx, sampleTalk("Busy"))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "deck.pdf", Body: pr})
		done <- err
	}()
	// More than the sniffer's first read: the upload starts, then waits for the rest.
	pw.Write(append(slidetest.PDF(1, "a"), make([]byte, 8<<10)...))
	for !l.uploadingNow(SlideKey(tk.ID, "deck.pdf")) {
		select {
		case err := <-done:
			t.Fatalf("the first upload ended early: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	if _, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "deck.pdf", Body: bytes.NewReader(slidetest.PDF(1, "b"))}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second upload = %v, want ErrConflict", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func (l *Library) uploadingNow(key string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.uploading[key]
}

func TestLibrary_SpeakerToken(t *testing.T) {
	s := &DirStore{Root: t.TempDir()}
	l := newLibrary(t, s)
	ctx := context.Background()
	a, _ := l.Create(ctx, sampleTalk("Talk A"))
	b, _ := l.Create(ctx, sampleTalk("Talk B"))
	if _, err := l.IssueSpeakerToken(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token for a missing talk: %v", err)
	}
	ta, err := l.IssueSpeakerToken(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := l.IssueSpeakerToken(ctx, b.ID)
	if raw, err := decodeToken(ta); err != nil || len(raw) < 16 {
		t.Fatalf("token %q: %d bytes of randomness, %v", ta, len(raw), err)
	}
	if id, ok := l.SpeakerTalk(ta); !ok || id != a.ID {
		t.Fatalf("SpeakerTalk(a's token) = %q, %v", id, ok)
	}
	if id, ok := l.SpeakerTalk(tb); !ok || id != b.ID {
		t.Fatalf("SpeakerTalk(b's token) = %q, %v", id, ok)
	}
	for _, bad := range []string{"", "x", ta + "x", ta[:len(ta)-1]} {
		if _, ok := l.SpeakerTalk(bad); ok {
			t.Errorf("SpeakerTalk(%q) accepted", bad)
		}
	}
	// Only the hash is stored, and not in talk.json.
	for k := range snapshot(t, s) {
		rc, _, _ := s.Get(ctx, k, 0, -1)
		data, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(data, []byte(ta)) {
			t.Fatalf("%s holds the token itself", k)
		}
		if strings.HasSuffix(k, "talk.json") && bytes.Contains(data, []byte("token")) {
			t.Fatalf("%s mentions the token: %s", k, data)
		}
	}

	// A fresh library on the same store knows the tokens.
	if id, ok := newLibrary(t, s).SpeakerTalk(ta); !ok || id != a.ID {
		t.Fatalf("after reload SpeakerTalk = %q, %v", id, ok)
	}
	// Re-issue: the old token stops working.
	ta2, _ := l.IssueSpeakerToken(ctx, a.ID)
	if _, ok := l.SpeakerTalk(ta); ok || ta2 == ta {
		t.Fatal("the re-issued link left the old token working")
	}
	// Revoke.
	if err := l.RevokeSpeakerToken(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.SpeakerTalk(ta2); ok {
		t.Fatal("a revoked token works")
	}
	if _, ok := newLibrary(t, s).SpeakerTalk(ta2); ok {
		t.Fatal("a revoked token works after a reload")
	}
	// Deleting the talk deletes its token; a new talk of the same id has none.
	if err := l.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, SpeakerKey(b.ID)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("speaker.json after delete: %v", err)
	}
	if _, err := l.Create(ctx, Talk{ID: b.ID, Title: "Again", Stage: "main"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.SpeakerTalk(tb); ok {
		t.Fatal("a new talk inherited a deleted talk's token")
	}
}

func decodeToken(tok string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(tok) }
