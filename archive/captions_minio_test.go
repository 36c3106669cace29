package archive_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
	"github.com/salon/salon/captions"
)

// TestLibrary_CaptionsMinIO: the caption objects land in a real MinIO, and
// a library rebuilt from the bucket lists them.
func TestLibrary_CaptionsMinIO(t *testing.T) {
	endpoint, user, secret, _, _ := storetest.MinIO(t)
	s := &archive.S3Store{Endpoint: endpoint, Bucket: "captions", AccessKey: user, SecretKey: secret, Log: slog.New(slog.DiscardHandler)}
	if err := s.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	l := &archive.Library{Store: s, Log: slog.New(slog.DiscardHandler)}
	if err := l.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	tk, err := l.Create(t.Context(), archive.Talk{Title: "字幕", Stage: "main"})
	if err != nil {
		t.Fatal(err)
	}
	cues := []captions.Cue{{Start: time.Second, End: 2 * time.Second, Text: "hello"}}
	if _, err := l.PutCaptions(t.Context(), tk.ID, archive.CaptionTrack{Lang: "en", Cues: cues, Source: archive.CaptionUploaded}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(t.Context(), "talks/"+tk.ID+"/captions/en.vtt")
	if err != nil || info.ContentType != "text/vtt" {
		t.Fatalf("the object in MinIO: %+v, %v", info, err)
	}
	l2 := &archive.Library{Store: s, Log: slog.New(slog.DiscardHandler)}
	if err := l2.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	data, err := l2.CaptionFile(t.Context(), tk.ID, "en")
	if err != nil || string(data) != "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello\n" {
		t.Errorf("CaptionFile after a restart = %q, %v", data, err)
	}
}
