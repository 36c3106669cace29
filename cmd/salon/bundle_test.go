package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive/slidetest"
	"github.com/salon/salon/internal/testkit"
)

// putRun stores a run ffmpeg made in the bucket under stages/{stage}/, as
// the recorder would have, and makes talk id its replay: the talk is
// created and its recording window set to the whole run.
func putRun(t testing.TB, a *app, stage, id, title string, run testkit.HLSRun) {
	t.Helper()
	for _, f := range run.Files {
		data, err := os.ReadFile(filepath.Join(run.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.store.Put(t.Context(), "stages/"+stage+"/"+run.Name+"/"+f, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	if code, m := api(t, a, "POST", "/api/talks", fmt.Sprintf(`{"id":%q,"title":%q,"stage":%q,"speakers":[{"name":"韩梅梅"}]}`, id, title, stage)); code != 201 {
		t.Fatalf("create %s: %d %v", id, code, m)
	}
	body := fmt.Sprintf(`{"recording":{"start":%q,"end":%q}}`, run.Start.Format(time.RFC3339Nano), run.Start.Add(run.Duration).Format(time.RFC3339Nano))
	if code, m := api(t, a, "PATCH", "/api/talks/"+id, body); code != 200 {
		t.Fatalf("recording window of %s: %d %v", id, code, m)
	}
}

// TestBundle_UnzipsAndDecodes: on a real MinIO, a talk's bundle.zip unzips
// (with unzip, as a person would) to the files it lists, the MP4 inside
// decodes with ffmpeg and lasts as long as the recording; hidden and
// do_not_record talks are refused as their MP4 is.
func TestBundle_UnzipsAndDecodes(t *testing.T) {
	unzipBin := testkit.NeedTool(t, "unzip")
	testkit.NeedTool(t, "ffprobe")
	run := testkit.MakeHLSRun(t, testkit.HLSRunOptions{Seconds: 12})
	a := testApp(t, minioArchive(t))
	putRun(t, a, "main", "home", "带回家 Take it home", run)
	deck := slidetest.PDF(2, "home")
	if code, m, _ := uploadSlides(t, a.httpURL("/api/talks/home/slides"), "test-admin-token", "幻灯片.pdf", bytes.NewReader(deck), int64(len(deck)), uploadOpts{}); code != 201 {
		t.Fatalf("upload slides: %d %v", code, m)
	}
	chat := `{"id":"c1","talk":"home","name":"李雷","text":"能下载吗？","ts":"` + run.Start.Add(3*time.Second).Format(time.RFC3339Nano) + `","question":true,"answered":true}` + "\n"
	if err := a.library.SaveChat(t.Context(), "home", []byte(chat)); err != nil {
		t.Fatal(err)
	}
	caption := []byte("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n你好\n")
	if err := a.store.Put(t.Context(), "talks/home/captions/zh-CN.vtt", bytes.NewReader(caption), int64(len(caption)), ""); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(a.httpURL("/talks/home/bundle.zip"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "home.zip")
	f, _ := os.Create(zipPath)
	_, err = io.Copy(f, resp.Body)
	resp.Body.Close()
	f.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bundle: %d %v", resp.StatusCode, err)
	}
	out, err := exec.Command(unzipBin, "-q", zipPath, "-d", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	var got []string
	filepath.WalkDir(filepath.Join(dir, "home"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	want := []string{"home/README.txt", "home/captions/zh-CN.vtt", "home/chat.json", "home/chat.vtt", "home/home.mp4", "home/slides/幻灯片.pdf", "home/talk.json"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("unzipped:\n%q\nwant\n%q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "home/slides/幻灯片.pdf")); !bytes.Equal(b, deck) {
		t.Error("the unzipped deck differs from the upload")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "home/chat.vtt")); !strings.Contains(string(b), "[Question, answered] 李雷: 能下载吗？") {
		t.Errorf("chat.vtt:\n%s", b)
	}
	mp4 := filepath.Join(dir, "home/home.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", mp4, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("the bundle's MP4 does not decode cleanly: %v\n%s", err, out)
	}
	out, err = exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", mp4).Output()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); d < run.Duration.Seconds()-1 || d > run.Duration.Seconds()+1 {
		t.Errorf("the MP4 lasts %.2f s; the recording %.2f s", d, run.Duration.Seconds())
	}

	// Hidden, then do_not_record: refused as the MP4 is.
	if code, m := api(t, a, "PATCH", "/api/talks/home", `{"hidden":true}`); code != 200 {
		t.Fatalf("hide: %d %v", code, m)
	}
	for _, p := range []string{"/talks/home/bundle.zip", "/talks/home/download.mp4"} {
		if code, body, _ := get(t, a.httpURL(p)); code != 404 {
			t.Errorf("GET %s of a hidden talk: %d %.100s", p, code, body)
		}
	}
	if code, m := api(t, a, "PATCH", "/api/talks/home", `{"hidden":false,"do_not_record":true}`); code != 200 {
		t.Fatalf("do_not_record: %d %v", code, m)
	}
	for _, p := range []string{"/talks/home/bundle.zip", "/talks/home/download.mp4"} {
		if code, body, _ := get(t, a.httpURL(p)); code != 404 {
			t.Errorf("GET %s of a do_not_record talk: %d %.100s", p, code, body)
		}
	}
}
