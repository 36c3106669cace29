package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/salon/salon/archive/slidetest"
)

// talkJSONFailStore is a DirStore whose puts of talk.json fail while fail is
// set: the bucket refusing the listing after the file itself was stored.
type talkJSONFailStore struct {
	*DirStore
	fail atomic.Bool
}

func (s *talkJSONFailStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if s.fail.Load() && strings.HasSuffix(key, "/talk.json") {
		return errors.New("bucket refused talk.json (test)")
	}
	return s.DirStore.Put(ctx, key, r, size, contentType)
}

func (s *talkJSONFailStore) PutIf(ctx context.Context, key string, data []byte, contentType string, cond Condition) (string, error) {
	if s.fail.Load() && strings.HasSuffix(key, "/talk.json") {
		return "", errors.New("bucket refused talk.json (test)")
	}
	return s.DirStore.PutIf(ctx, key, data, contentType, cond)
}

// TestLibrary_AddSlideListingFails: when talk.json cannot be saved after an
// upload, a new file is removed again (nothing unlisted is left), and a
// replacing one is kept, since talk.json still lists that name: deleting it
// would lose the talk's slides.
func TestLibrary_AddSlideListingFails(t *testing.T) {
	ds := &DirStore{Root: t.TempDir()}
	if err := ds.Initialize(); err != nil {
		t.Fatal(err)
	}
	s := &talkJSONFailStore{DirStore: ds}
	l := newLibrary(t, s)
	ctx := t.Context()
	tk, err := l.Create(ctx, sampleTalk("Slides"))
	if err != nil {
		t.Fatal(err)
	}
	v1 := slidetest.PDF(2, "first")
	if _, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "deck.pdf", Body: bytes.NewReader(v1)}); err != nil {
		t.Fatal(err)
	}

	s.fail.Store(true)
	v2 := slidetest.PDF(3, "second")
	if _, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "deck.pdf", Body: bytes.NewReader(v2)}); err == nil {
		t.Fatal("the replacing upload succeeded though talk.json could not be saved")
	}
	if _, err := l.AddSlide(ctx, tk.ID, SlideUpload{Name: "new.pdf", Body: bytes.NewReader(v2)}); err == nil {
		t.Fatal("the new upload succeeded though talk.json could not be saved")
	}
	s.fail.Store(false)

	got, err := l.Get(tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Slides) != 1 || got.Slides[0].Name != "deck.pdf" {
		t.Fatalf("slides listed: %+v, want deck.pdf only", got.Slides)
	}
	rc, _, err := s.Get(ctx, SlideKey(tk.ID, "deck.pdf"), 0, -1)
	if err != nil {
		t.Fatalf("the listed file deck.pdf was deleted: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if len(b) == 0 {
		t.Fatal("the listed file deck.pdf is empty")
	}
	if _, _, err := s.Get(ctx, SlideKey(tk.ID, "new.pdf"), 0, -1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the unlisted new.pdf is left in the archive: %v", err)
	}
	// A reload from the bucket agrees.
	l2 := newLibrary(t, s)
	if got, err := l2.Get(tk.ID); err != nil || len(got.Slides) != 1 {
		t.Fatalf("after a reload: %+v %v", got.Slides, err)
	}
}
