package archive

import (
	"bytes"
	"testing"
)

// TestLibrary_CleansText reproduces the bidi spoofing of issue 13 (finding
// 9): titles and speaker names kept U+202E and other format characters.
// Every field a person reads now goes through internal/textclean on create,
// on update and when an older talk.json is loaded.
func TestLibrary_CleansText(t *testing.T) {
	s := libStore(t)
	l := newLibrary(t, s)
	in := sampleTalk("Invoice \u202Efdp.exe")
	in.ID = "invoice"
	in.Speakers = []Speaker{{Name: "\u2067Ada\u2069"}, {Name: "王\u200B小明"}}
	in.Abstract = "line one\r\nline \u202Atwo"
	in.Track = "Web\u200F"
	got, err := l.Create(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "Invoice fdp.exe" || got.Speakers[0].Name != "Ada" || got.Speakers[1].Name != "王小明" ||
		got.Abstract != "line one\nline two" || got.Track != "Web" {
		t.Fatalf("created %+v", got)
	}
	title := "Q&A \u2066with\u2069 everyone"
	got, err = l.Update(t.Context(), "invoice", TalkPatch{Title: &title})
	if err != nil || got.Title != "Q&A with everyone" {
		t.Fatalf("updated %q, %v", got.Title, err)
	}
	if _, err := l.Update(t.Context(), "invoice", TalkPatch{Title: ptr("\u202E\u200B")}); err == nil {
		t.Fatal("a title of invisible characters only was accepted")
	}

	// A talk.json written before the rule, straight into the bucket.
	old := []byte(`{"id":"older","title":"Old \u202Etalk","stage":"main","speakers":[{"name":"Bob\u200E"}]}`)
	if err := s.Put(t.Context(), TalkKey("older"), bytes.NewReader(old), int64(len(old)), "application/json"); err != nil {
		t.Fatal(err)
	}
	got, err = newLibrary(t, s).Get("older")
	if err != nil || got.Title != "Old talk" || got.Speakers[0].Name != "Bob" {
		t.Fatalf("loaded %+v, %v", got, err)
	}
}

func ptr[T any](v T) *T { return &v }
