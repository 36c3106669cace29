package archive_test

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
	"github.com/salon/salon/hls/hlscheck"
)

// TestLibrary_MinIO runs the talk library and a cut against a real MinIO:
// what a fresh salon on the same bucket sees is what the first one wrote.
func TestLibrary_MinIO(t *testing.T) {
	endpoint, user, secret, _, _ := storetest.MinIO(t)
	ctx := t.Context()
	s := &archive.S3Store{Endpoint: endpoint, Bucket: "library", AccessKey: user, SecretKey: secret,
		Log: slog.New(slog.DiscardHandler)}
	if err := s.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2019, 4, 21, 1, 30, 0, 0, time.UTC)
	putStageRun(t, s, start)
	l := openLibrary(t, s, start.Add(time.Hour))
	tk, err := l.Create(ctx, archive.Talk{Title: "On MinIO", Stage: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Start(ctx, tk.ID, start.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Stop(ctx, tk.ID, start.Add(25*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Create(ctx, archive.Talk{ID: tk.ID, Title: "Again", Stage: "main"}); !errors.Is(err, archive.ErrConflict) {
		t.Fatalf("taken id: %v", err)
	}

	got, err := openLibrary(t, s, start.Add(time.Hour)).Get(tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Recording == nil || got.Recording.End == nil || !got.Recording.End.Equal(start.Add(25*time.Second)) {
		t.Fatalf("fresh library: %+v", got)
	}
	rc, _, err := s.Get(ctx, archive.TalkPlaylistKey(tk.ID), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	p, err := hlscheck.CheckMediaPlaylist(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(p.Segments) != 11 || p.PlaylistType != "VOD" {
		t.Fatalf("%d segments, %s\n%s", len(p.Segments), p.PlaylistType, body)
	}
	if err := l.Delete(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(ctx, "talks/")
	if err != nil || len(objs) != 0 {
		t.Fatalf("after delete: %v %v", objs, err)
	}
	if _, err := s.Stat(ctx, "stages/main/20190421T013000Z/index.m3u8"); err != nil {
		t.Fatalf("delete touched the stage: %v", err)
	}
}
