package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/slidetest"
	"github.com/salon/salon/internal/testkit"
	"github.com/salon/salon/web/chat"
)

// replayEnv is a talk library on a DirStore with one stage run that ffmpeg
// made and the talk "recorded" over all of it: a Chinese title, a PDF deck
// with a Chinese name, three slide changes, a chat (a question marked
// answered, a message with HTML, a deleted one) and captions in two
// languages.
type replayEnv struct {
	store *archive.DirStore
	lib   *archive.Library
	run   testkit.HLSRun
	deck  []byte
}

const bundleDeckName = "讲义 第1版.pdf"

func newReplayEnv(t *testing.T) *replayEnv {
	t.Helper()
	run := testkit.MakeHLSRun(t, testkit.HLSRunOptions{Seconds: 16})
	ctx := t.Context()
	store := &archive.DirStore{Root: t.TempDir()}
	if err := store.Initialize(); err != nil {
		t.Fatal(err)
	}
	put := func(key string, data []byte) {
		t.Helper()
		if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range run.Files {
		data, err := os.ReadFile(filepath.Join(run.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		put("stages/main/"+run.Name+"/"+f, data)
	}
	lib := &archive.Library{Store: store, Log: slog.New(slog.DiscardHandler)}
	if err := lib.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	e := &replayEnv{store: store, lib: lib, run: run, deck: slidetest.PDF(3, "bundle")}
	e.recordTalk(t, "recorded", "零拷贝回放 Zero-copy replays")
	if _, err := lib.AddSlide(ctx, "recorded", archive.SlideUpload{Name: bundleDeckName, Body: bytes.NewReader(e.deck), By: archive.UploadedByOrganiser}); err != nil {
		t.Fatal(err)
	}
	at := func(s float64) time.Time { return run.Start.Add(time.Duration(s * float64(time.Second))) }
	if _, err := lib.SaveSlideChanges(ctx, "recorded", []archive.SlideChange{{At: at(0.5), Page: 1}, {At: at(5), Page: 2}, {At: at(11), Page: 3}}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	enc := json.NewEncoder(&log)
	for _, m := range []chat.Message{
		{ID: "m1", Talk: "recorded", Name: "小明", Text: "你好 <b>everyone</b>", Time: at(2)},
		{ID: "m2", Talk: "recorded", Name: "Ada", Text: "How are cuts made?\n\nAt keyframes?", Time: at(7), Question: true, Votes: 3, Answered: true},
		{ID: "m3", Talk: "recorded", Name: "troll", Text: "spam", Time: at(8), Deleted: true},
	} {
		_ = enc.Encode(m)
	}
	if err := lib.SaveChat(ctx, "recorded", log.Bytes()); err != nil {
		t.Fatal(err)
	}
	put("talks/recorded/captions/zh-CN.vtt", []byte("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n大家好\n"))
	put("talks/recorded/captions/en.vtt", []byte("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello all\n"))
	return e
}

// recordTalk makes a talk whose recording is the whole run.
func (e *replayEnv) recordTalk(t *testing.T, id, title string) {
	t.Helper()
	ctx := t.Context()
	if _, err := e.lib.Create(ctx, archive.Talk{ID: id, Title: title, Stage: "main", Speakers: []archive.Speaker{{Name: "李雷"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lib.Start(ctx, id, e.run.Start); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lib.Stop(ctx, id, e.run.Start.Add(e.run.Duration)); err != nil {
		t.Fatal(err)
	}
}

// server serves the library; archive wraps the store when not nil.
func (e *replayEnv) server(t *testing.T, maxBundle int64, store archiveReader) (string, *testkit.LogBuffer) {
	t.Helper()
	if store == nil {
		store = e.store
	}
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	logs := &testkit.LogBuffer{}
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: logs.Logger(), Talks: e.lib, Slides: e.lib, Archive: store, AdminToken: testAdmin,
		MaxBundleSize: maxBundle,
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return "http://" + s.Addr(), logs
}

func fetch(t *testing.T, url string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func unzip(t *testing.T, body []byte) map[string]*zip.File {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the bundle is not a zip: %v", err)
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	return files
}

func readZipped(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: %v (a CRC mismatch means the zip is wrong)", f.Name, err)
	}
	return b
}

// TestBundle_Contents: the bundle holds the listed files, each as stored
// (the MP4 byte for byte the MP4 download, stored not deflated), the chat
// without its deleted message and as escaped WebVTT, and a README.
func TestBundle_Contents(t *testing.T) {
	e := newReplayEnv(t)
	base, logs := e.server(t, 0, nil)
	resp, body, err := fetch(t, base+"/talks/recorded/bundle.zip")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bundle: %v %d %.200s", err, resp.StatusCode, body)
	}
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/zip" || cd != `attachment; filename="recorded.zip"` {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	files := unzip(t, body)
	want := []string{"recorded/recorded.mp4", "recorded/talk.json", "recorded/slides/" + bundleDeckName, "recorded/slides.vtt",
		"recorded/captions/en.vtt", "recorded/captions/zh-CN.vtt", "recorded/chat.json", "recorded/chat.vtt", "recorded/README.txt"}
	var got []string
	for name := range files {
		got = append(got, name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("bundle files:\n%q\nwant\n%q", got, want)
	}
	mp4 := files["recorded/recorded.mp4"]
	if mp4.Method != zip.Store {
		t.Errorf("the MP4 is compressed with method %d; video does not compress: store it", mp4.Method)
	}
	if files["recorded/chat.json"].Method != zip.Deflate {
		t.Errorf("chat.json is not deflated")
	}
	_, direct, err := fetch(t, base+"/talks/recorded/download.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if zipped := readZipped(t, mp4); !bytes.Equal(zipped, direct) || len(direct) < 100_000 {
		t.Errorf("the bundle's MP4 (%d bytes) differs from the MP4 download (%d bytes)", len(zipped), len(direct))
	}
	if !bytes.Equal(readZipped(t, files["recorded/slides/"+bundleDeckName]), e.deck) {
		t.Error("the slide deck differs from the upload")
	}
	if files["recorded/slides/"+bundleDeckName].Flags&0x800 == 0 {
		t.Error("the deck's Chinese name is not flagged UTF-8")
	}
	var talk archive.Talk
	if err := json.Unmarshal(readZipped(t, files["recorded/talk.json"]), &talk); err != nil || talk.Title != "零拷贝回放 Zero-copy replays" {
		t.Errorf("talk.json: %v %+v", err, talk)
	}
	var feed struct {
		Messages []talkChatMessage `json:"messages"`
	}
	if err := json.Unmarshal(readZipped(t, files["recorded/chat.json"]), &feed); err != nil || len(feed.Messages) != 2 {
		t.Fatalf("chat.json: %v %+v", err, feed)
	}
	if q := feed.Messages[1]; !q.Question || !q.Answered || q.At < 6 || q.At > 8 {
		t.Errorf("the question in chat.json: %+v (want answered, at ~7 s)", q)
	}
	vtt := string(readZipped(t, files["recorded/chat.vtt"]))
	for _, s := range []string{"WEBVTT\n", "00:00:02.000 --> 00:00:08.000\n小明: 你好 &lt;b&gt;everyone&lt;/b&gt;\n", "[Question, answered] Ada: How are cuts made?\nAt keyframes?\n"} {
		if !strings.Contains(vtt, s) {
			t.Errorf("chat.vtt lacks %q:\n%s", s, vtt)
		}
	}
	if strings.Contains(vtt, "spam") {
		t.Error("chat.vtt shows a deleted message")
	}
	if s := string(readZipped(t, files["recorded/slides.vtt"])); strings.Count(s, "Slide ") != 3 {
		t.Errorf("slides.vtt:\n%s", s)
	}
	readme := string(readZipped(t, files["recorded/README.txt"]))
	if !strings.Contains(readme, "零拷贝回放 Zero-copy replays") || !strings.Contains(readme, "recorded.mp4 (") || strings.Contains(readme, "Left out") {
		t.Errorf("README.txt:\n%s", readme)
	}
	if !strings.Contains(logs.String(), "bundle downloaded") {
		t.Errorf("no log line for the bundle:\n%s", logs.String())
	}
}

// TestBundle_Refusals: hidden and do_not_record talks answer 404 as their
// MP4 does (the organiser still gets a hidden one), a talk not recorded
// 404, and a bundle over the cap 413 with a JSON error before any zip byte.
func TestBundle_Refusals(t *testing.T) {
	e := newReplayEnv(t)
	ctx := t.Context()
	e.recordTalk(t, "hidden", "Hidden")
	yes := true
	if _, err := e.lib.Update(ctx, "hidden", archive.TalkPatch{Hidden: &yes}); err != nil {
		t.Fatal(err)
	}
	e.recordTalk(t, "dnr", "Not to be recorded")
	if _, err := e.lib.Update(ctx, "dnr", archive.TalkPatch{DoNotRecord: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lib.Create(ctx, archive.Talk{ID: "later", Title: "Later", Stage: "main"}); err != nil {
		t.Fatal(err)
	}
	base, _ := e.server(t, 0, nil)
	for _, c := range []struct {
		path string
		want int
	}{
		{"/talks/hidden/bundle.zip", 404},
		{"/talks/hidden/download.mp4", 404},
		{"/talks/hidden/chapters.vtt", 404},
		{"/talks/dnr/bundle.zip", 404},
		{"/talks/dnr/download.mp4", 404},
		{"/talks/dnr/chapters.vtt", 404},
		{"/talks/later/bundle.zip", 404},
		{"/talks/nope/bundle.zip", 404},
		{"/talks/recorded/bundle.zip", 200},
	} {
		resp, body, _ := fetch(t, base+c.path)
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d %.200s, want %d", c.path, resp.StatusCode, body, c.want)
		}
		if c.want == 404 && !json.Valid(body) {
			t.Errorf("GET %s: %q is not a JSON error", c.path, body)
		}
	}
	req, _ := http.NewRequest("GET", base+"/talks/hidden/bundle.zip", nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("the organiser's bundle of a hidden talk: %v %v", err, resp.StatusCode)
	} else {
		resp.Body.Close()
	}

	capped, _ := e.server(t, 200_000, nil)
	resp, body, _ := fetch(t, capped+"/talks/recorded/bundle.zip")
	var msg struct{ Error string }
	if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(body, &msg) != nil ||
		!strings.Contains(msg.Error, "over this server's limit of 195.3 KiB (200000 bytes)") || !strings.Contains(msg.Error, "/talks/recorded/download.mp4") {
		t.Errorf("over the cap: %d %s", resp.StatusCode, body)
	}
}

// TestBundle_MissingPart: a file listed in talk.json but gone from the
// bucket is left out of the zip and named in its README.
func TestBundle_MissingPart(t *testing.T) {
	e := newReplayEnv(t)
	if err := e.store.Delete(t.Context(), archive.SlideKey("recorded", bundleDeckName)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Delete(t.Context(), archive.ChatKey("recorded")); err != nil {
		t.Fatal(err)
	}
	base, _ := e.server(t, 0, nil)
	resp, body, err := fetch(t, base+"/talks/recorded/bundle.zip")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bundle: %v %d", err, resp.StatusCode)
	}
	files := unzip(t, body)
	if _, ok := files["recorded/slides/"+bundleDeckName]; ok {
		t.Error("the zip holds a deck that is not in the bucket")
	}
	if _, ok := files["recorded/recorded.mp4"]; !ok {
		t.Error("the MP4 is missing")
	}
	readme := string(readZipped(t, files["recorded/README.txt"]))
	for _, s := range []string{"Left out:", "slides/" + bundleDeckName + ": this slide file is not in the archive", "\n  chat.json, chat.vtt: "} {
		if !strings.Contains(readme, s) {
			t.Errorf("README.txt lacks %q:\n%s", s, readme)
		}
	}
}

// failingStore fails reads of one key, as a bucket that breaks mid-download.
type failingStore struct {
	*archive.DirStore
	key string
}

func (f *failingStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, archive.ObjectInfo, error) {
	if strings.HasSuffix(key, f.key) {
		return nil, archive.ObjectInfo{}, errors.New("connection reset by the bucket")
	}
	return f.DirStore.Get(ctx, key, offset, length)
}

// TestBundle_AbortsMidStream: a read that fails once the zip has started
// breaks the download (the client sees an error, not a zip that looks
// whole) and is logged.
func TestBundle_AbortsMidStream(t *testing.T) {
	e := newReplayEnv(t)
	base, logs := e.server(t, 0, &failingStore{DirStore: e.store, key: "/5.m4s"})
	resp, body, err := fetch(t, base+"/talks/recorded/bundle.zip")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err == nil {
		t.Fatalf("the download of %d bytes ended cleanly; want a broken download", len(body))
	}
	if _, zerr := zip.NewReader(bytes.NewReader(body), int64(len(body))); zerr == nil {
		t.Error("the cut download reads as a whole zip")
	}
	if !strings.Contains(logs.String(), "bundle download aborted") || !strings.Contains(logs.String(), "connection reset by the bucket") {
		t.Errorf("the abort is not logged:\n%s", logs.String())
	}
}

// TestChapters_Track: chapters.vtt is the slide changes on the replay's
// timeline.
func TestChapters_Track(t *testing.T) {
	e := newReplayEnv(t)
	base, _ := e.server(t, 0, nil)
	resp, body, err := fetch(t, base+"/talks/recorded/chapters.vtt")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/vtt; charset=utf-8" {
		t.Fatalf("chapters: %v %d %q", err, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, s := range []string{"WEBVTT\n", "00:00:05.000 --> 00:00:11.000\nSlide 2\n", "\nSlide 3\n"} {
		if !strings.Contains(string(body), s) {
			t.Errorf("chapters.vtt lacks %q:\n%s", s, body)
		}
	}
}
