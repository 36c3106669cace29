package archive_test

import (
	"io"
	"log/slog"
	"strings"
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

// TestLibrary_LiveCaptionsFollowTrimMinIO: a talk's archived live captions
// follow the recording window when the organiser trims the replay (PATCH
// of recording, /admin/talks/{id} In and Out): cues before In and after
// Out leave the track, the others move with the cut's start, in the track
// and in the replay's subtitle segment; widening the window again brings
// them back, and a library rebuilt from the bucket sees the same. Real
// ffmpeg segments recorded into a real MinIO.
func TestLibrary_LiveCaptionsFollowTrimMinIO(t *testing.T) {
	endpoint, user, secret, _, _ := storetest.MinIO(t)
	ctx := t.Context()
	store := &archive.S3Store{Endpoint: endpoint, Bucket: "trim", AccessKey: user, SecretKey: secret, Log: slog.New(slog.DiscardHandler)}
	if err := store.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	const run = "20260301T100000Z"
	segs := archive.RecorderTestSegments(t, 10, "main", run) // 1 s each
	r := &archive.Recorder{Store: store, SpoolDir: t.TempDir()}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	for _, s := range segs {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", run)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := segs[0].Start
	l := openLibrary(t, store, t0.Add(time.Hour))
	tk, err := l.Create(ctx, archive.Talk{Title: "Trimmed", Stage: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Start(ctx, tk.ID, t0.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Stop(ctx, tk.ID, t0.Add(9*time.Second)); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration, text string) archive.LiveCaption {
		return archive.LiveCaption{Start: t0.Add(d), End: t0.Add(d + 1500*time.Millisecond), Text: text}
	}
	live := []archive.LiveCaption{at(time.Second, "one"), at(3200*time.Millisecond, "two"), at(6500*time.Millisecond, "three")}
	if err := l.SaveLiveCaptions(ctx, tk.ID, "en", live); err != nil {
		t.Fatal(err)
	}
	read := func(l *archive.Library) string {
		t.Helper()
		b, err := l.CaptionFile(ctx, tk.ID, "en")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	whole := "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\none\n\n00:00:03.200 --> 00:00:04.700\ntwo\n\n00:00:06.500 --> 00:00:08.000\nthree\n"
	if got := read(l); got != whole {
		t.Fatalf("archived live track:\n%s\nwant:\n%s", got, whole)
	}
	hlsBefore := getString(t, store, archive.CaptionHLSKey(tk.ID, "en"))

	// Trim: In at 2.5 s (the cut starts with the segment at 2 s), Out at 6 s.
	in, out := t0.Add(2500*time.Millisecond), t0.Add(6*time.Second)
	trimmed, err := l.Update(ctx, tk.ID, archive.TalkPatch{Recording: &archive.Window{Start: in, End: &out}})
	if err != nil {
		t.Fatal(err)
	}
	wantTrim := "WEBVTT\n\n00:00:01.200 --> 00:00:02.700\ntwo\n"
	if got := read(l); got != wantTrim {
		t.Errorf("track after the trim:\n%s\nwant:\n%s", got, wantTrim)
	}
	if len(trimmed.Captions) != 1 || trimmed.Captions[0].Cues != 1 || trimmed.Captions[0].Source != archive.CaptionLive {
		t.Errorf("talk.json captions after the trim: %+v", trimmed.Captions)
	}
	// The replay's subtitle segment is the trimmed track on the stored
	// timeline: "two" only, 2 s later on it than the cut's new start.
	hlsAfter := getString(t, store, archive.CaptionHLSKey(tk.ID, "en"))
	if hlsAfter == hlsBefore || strings.Contains(hlsAfter, "one") || strings.Contains(hlsAfter, "three") || !strings.Contains(hlsAfter, "two") {
		t.Errorf("the replay's subtitle segment after the trim:\n%s\nbefore:\n%s", hlsAfter, hlsBefore)
	}
	if body := getString(t, store, archive.TalkPlaylistKey(tk.ID)); !strings.Contains(body, `TYPE=SUBTITLES`) || !strings.Contains(body, `URI="captions/en.m3u8"`) {
		t.Errorf("the trimmed replay lists no subtitles:\n%s", body)
	}

	// A fresh library over the bucket, and the window widened again: the
	// dropped cues come back from the wall-clock cues kept in the bucket.
	l2 := openLibrary(t, store, t0.Add(time.Hour))
	if got := read(l2); got != wantTrim {
		t.Errorf("a fresh library reads:\n%s", got)
	}
	end := t0.Add(9 * time.Second)
	if _, err := l2.Update(ctx, tk.ID, archive.TalkPatch{Recording: &archive.Window{Start: t0.Add(500 * time.Millisecond), End: &end}}); err != nil {
		t.Fatal(err)
	}
	if got := read(l2); got != whole {
		t.Errorf("track after widening the window again:\n%s\nwant:\n%s", got, whole)
	}
	// An uploaded track is the person's: a trim leaves it as it is.
	up := []captions.Cue{{Start: time.Second, End: 2 * time.Second, Text: "uploaded"}}
	if _, err := l2.PutCaptions(ctx, tk.ID, archive.CaptionTrack{Lang: "fr", Cues: up, Source: archive.CaptionUploaded}); err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Update(ctx, tk.ID, archive.TalkPatch{Recording: &archive.Window{Start: in, End: &out}}); err != nil {
		t.Fatal(err)
	}
	if b, err := l2.CaptionFile(ctx, tk.ID, "fr"); err != nil || string(b) != "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nuploaded\n" {
		t.Errorf("the uploaded track after a trim: %q, %v", b, err)
	}
}

func getString(t *testing.T, s archive.Store, key string) string {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
