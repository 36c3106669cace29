package archive

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/captions"
	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/internal/testkit"
)

// captionLibrary is a library over store with one recorded talk on stage
// main (six seconds of media from recT0, the talk from 0.5 s to 5 s).
func captionLibrary(t *testing.T, store Store) (*Library, Talk) {
	t.Helper()
	src := makeMedia(t, 6, "320x240")
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: filepath.Join(t.TempDir(), "spool")})
	const run = "20260301T100000Z"
	for _, s := range src.segments("main", run, 0, "init-0.mp4", recT0) {
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", run)
	recFlush(t, r)
	l := &Library{Store: store, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return recT0.Add(time.Hour) }}
	if err := l.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	tk, err := l.Create(t.Context(), Talk{Title: "字幕 captions", Stage: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Start(t.Context(), tk.ID, recT0.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if tk, err = l.Stop(t.Context(), tk.ID, recT0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	return l, tk
}

// TestLibrary_PutCaptions: an uploaded track is stored as normalised
// WebVTT under talks/{id}/captions/{lang}.vtt and listed in talk.json; the
// replay becomes a multivariant playlist with a SUBTITLES rendition that
// ffprobe reads as a webvtt stream; live cues never replace an upload;
// delete removes both files and the rendition.
func TestLibrary_PutCaptions(t *testing.T) {
	store := recDirStore(t)
	l, tk := captionLibrary(t, store)
	ctx := t.Context()
	cues, _, err := captions.Parse([]byte("1\r\n00:00:00,500 --> 00:00:02,000\r\n<script>x</script>你好\r\n"), captions.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.PutCaptions(ctx, tk.ID, CaptionTrack{Lang: "zh-cn", Cues: cues, Source: CaptionUploaded, By: UploadedBySpeaker})
	if err != nil || c.Lang != "zh-CN" || c.Cues != 1 {
		t.Fatalf("PutCaptions = %+v, %v", c, err)
	}
	if got := string(recGet(t, store, "talks/"+tk.ID+"/captions/zh-CN.vtt")); got != "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nx你好\n" {
		t.Errorf("stored file = %q", got)
	}
	got, _ := l.Get(tk.ID)
	if len(got.Captions) != 1 || got.Captions[0].Source != CaptionUploaded || got.Captions[0].UploadedBy != UploadedBySpeaker {
		t.Errorf("talk.json captions = %+v", got.Captions)
	}

	body := recGet(t, store, TalkPlaylistKey(tk.ID))
	mv, err := hlscheck.CheckMultivariantPlaylist(body)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, body)
	}
	if len(mv.Media) != 1 || mv.Media[0].Type != "SUBTITLES" || mv.Media[0].Language != "zh-CN" || mv.Media[0].URI != "captions/zh-CN.m3u8" ||
		len(mv.Variants) != 1 || mv.Variants[0].Subtitles != "subs" || mv.Variants[0].URI != "index-source.m3u8" {
		t.Fatalf("replay playlist:\n%s", body)
	}
	subs, err := hlscheck.CheckMediaPlaylist(recGet(t, store, CaptionPlaylistKey(tk.ID, "zh-CN")))
	if err != nil || len(subs.Segments) != 1 || subs.Segments[0].URI != "hls/zh-CN.vtt" {
		t.Fatalf("subtitle playlist: %v %+v", err, subs)
	}
	// The segment: the cues on the stored timeline from the cut's first
	// segment's decode time, which the map puts at its MPEG-TS time.
	sel, err := l.Selection(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	origin, err := l.cutOrigin(ctx, &sel)
	if err != nil || origin < 0 { // the fixture's media starts at decode time 0
		t.Fatalf("cut origin %v, %v", origin, err)
	}
	wantSeg := fmt.Sprintf("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:%s\n\n%s --> %s\nx你好\n", uint64(origin)*9/100_000,
		vttClock(origin), vttClock(origin+500*time.Millisecond), vttClock(origin+2*time.Second))
	if got := string(recGet(t, store, CaptionHLSKey(tk.ID, "zh-CN"))); got != wantSeg {
		t.Errorf("the replay's subtitle segment:\n%s\nwant:\n%s", got, wantSeg)
	}
	{
		ffprobe := testkit.Tool(t, "ffprobe")
		// ffmpeg's HLS demuxer reads subtitle renditions only with -strict experimental.
		out, err := exec.Command(ffprobe, "-v", "error", "-strict", "experimental", "-show_entries", "stream=codec_name,codec_type", "-of", "compact",
			filepath.Join(store.Root, TalkPlaylistKey(tk.ID))).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "codec_name=webvtt|codec_type=subtitle") || !strings.Contains(string(out), "codec_name=h264") {
			t.Errorf("ffprobe of the replay: %v\n%s", err, out)
		}
	}

	// Live cues do not replace the upload…
	live := []LiveCaption{{Start: recT0.Add(time.Second), End: recT0.Add(2 * time.Second), Text: "live"}}
	if err := l.SaveLiveCaptions(ctx, tk.ID, "zh-CN", live); err != nil {
		t.Fatal(err)
	}
	if got := string(recGet(t, store, CaptionKey(tk.ID, "zh-CN"))); strings.Contains(got, "live") {
		t.Errorf("live cues replaced the upload: %q", got)
	}
	// …and make a track of their own in another language, on the replay's timeline.
	live = append(live, LiveCaption{Start: recT0.Add(-time.Minute), End: recT0.Add(-time.Minute + time.Second), Text: "before the talk"})
	if err := l.SaveLiveCaptions(ctx, tk.ID, "en", live); err != nil {
		t.Fatal(err)
	}
	if got := string(recGet(t, store, CaptionKey(tk.ID, "en"))); got != "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nlive\n" {
		t.Errorf("archived live track = %q", got)
	}

	if err := l.DeleteCaptions(ctx, tk.ID, "zh-CN", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteCaptions(ctx, tk.ID, "zh-CN", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	for _, key := range []string{CaptionKey(tk.ID, "zh-CN"), CaptionPlaylistKey(tk.ID, "zh-CN"), CaptionHLSKey(tk.ID, "zh-CN")} {
		if _, err := store.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after delete: %v", key, err)
		}
	}
	if body := string(recGet(t, store, TalkPlaylistKey(tk.ID))); strings.Contains(body, "zh-CN") || !strings.Contains(body, `LANGUAGE="en"`) {
		t.Errorf("replay after delete:\n%s", body)
	}

	// do_not_record: no replay, so no subtitle playlists; the track stays.
	dnr := true
	if _, err := l.Update(ctx, tk.ID, TalkPatch{DoNotRecord: &dnr}); err != nil {
		t.Fatal(err)
	}
	objs, err := store.List(ctx, "talks/"+tk.ID+"/captions/")
	if err != nil || len(objs) != 2 || objs[0].Key != CaptionLiveKey(tk.ID, "en") || objs[1].Key != CaptionKey(tk.ID, "en") {
		t.Errorf("captions of a do_not_record talk: %v %v, want en.live.json and en.vtt alone", objs, err)
	}
}

func vttClock(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
