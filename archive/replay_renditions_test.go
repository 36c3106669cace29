package archive

import (
	"bytes"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/hls/playlist"
)

// recordPair records the same six seconds as a 320x240 source and a
// 160x120 rendition "360p" of stage main, as the recorder does for a stage
// with renditions, and ends both runs.
func recordPair(t *testing.T, store Store) {
	t.Helper()
	src, low := makeMedia(t, 6, "320x240"), makeMedia(t, 6, "160x120")
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: filepath.Join(t.TempDir(), "spool")})
	const run = "20260301T100000Z"
	for _, s := range src.segments("main", run, 0, "init-0.mp4", recT0) {
		r.SegmentReady(s)
	}
	for _, s := range low.segments("main", run, 0, "init-0.mp4", recT0) {
		s.Rendition = "360p"
		r.SegmentReady(s)
	}
	r.RunEnded("main", "", run)
	r.RunEnded("main", "360p", run)
	recFlush(t, r)
}

// TestLibrary_ReplayRenditions: the replay of a talk on a stage with a
// rendition is a multivariant playlist over the source's and the
// rendition's cuts (source first), which ffprobe reads from the bucket's
// files; a trim re-cuts every rendition; the download still comes from
// the source; do_not_record removes every cut.
func TestLibrary_ReplayRenditions(t *testing.T) {
	store := recDirStore(t)
	recordPair(t, store)
	l := &Library{Store: store, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return recT0.Add(time.Hour) }}
	if err := l.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	tk, err := l.Create(t.Context(), Talk{Title: "Renditions", Stage: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Start(t.Context(), tk.ID, recT0.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Stop(t.Context(), tk.ID, recT0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	body := recGet(t, store, TalkPlaylistKey(tk.ID))
	mv, err := hlscheck.CheckMultivariantPlaylist(body)
	if err != nil || !playlist.IsMultivariant(body) {
		t.Fatalf("replay is not multivariant (%v):\n%s", err, body)
	}
	vs := mv.Variants
	if len(vs) != 2 || vs[0].URI != "index-source.m3u8" || vs[0].Width != 320 || vs[0].Height != 240 ||
		vs[1].URI != "index-360p.m3u8" || vs[1].Width != 160 || vs[1].Height != 120 {
		t.Fatalf("variants:\n%s", body)
	}
	for _, v := range vs {
		if v.Bandwidth == 0 || v.AverageBandwidth == 0 || len(v.Codecs) == 0 || !strings.HasPrefix(v.Codecs[0], "avc1.") {
			t.Errorf("variant %s: %+v", v.URI, v)
		}
	}
	segments := func(uri string) int {
		cut := recGet(t, store, "talks/"+tk.ID+"/"+uri)
		pl, err := hlscheck.CheckMediaPlaylist(cut)
		if err != nil || !pl.EndList {
			t.Fatalf("%s: %v (ended %v)\n%s", uri, err, pl != nil && pl.EndList, cut)
		}
		for _, s := range pl.Segments {
			if want := "../../stages/main/"; !strings.HasPrefix(s.URI, want) {
				t.Errorf("%s lists %s", uri, s.URI)
			}
			if (uri == "index-360p.m3u8") != strings.Contains(s.URI, "/360p/") {
				t.Errorf("%s lists %s", uri, s.URI)
			}
		}
		return len(pl.Segments)
	}
	if n, m := segments("index-source.m3u8"), segments("index-360p.m3u8"); n != 5 || m != 5 {
		t.Errorf("cuts list %d and %d segments, want 5 each", n, m)
	}
	if final, err := l.RecutFinal(t.Context(), tk.ID); err != nil || !final {
		t.Errorf("RecutFinal = %v, %v; want final", final, err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "compact",
		filepath.Join(store.Root, TalkPlaylistKey(tk.ID))).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "width=320|height=240") || !strings.Contains(string(out), "width=160|height=120") {
		t.Errorf("ffprobe of the replay: %v\n%s", err, out)
	}

	// The download is the source's.
	sel, err := l.Selection(t.Context(), tk.ID)
	if err != nil || len(sel.Parts) == 0 || strings.Contains(sel.Parts[0].Init, "360p") {
		t.Errorf("download selection %+v, %v: want the source's", sel, err)
	}

	// A trim re-cuts both.
	end := recT0.Add(3 * time.Second)
	if _, err := l.Update(t.Context(), tk.ID, TalkPatch{Recording: &Window{Start: recT0.Add(500 * time.Millisecond), End: &end}}); err != nil {
		t.Fatal(err)
	}
	if n, m := segments("index-source.m3u8"), segments("index-360p.m3u8"); n != 3 || m != 3 {
		t.Errorf("after the trim, cuts list %d and %d segments, want 3 each", n, m)
	}

	// A library rebuilt from the bucket sees the replay as final: no re-cut pending.
	l2 := &Library{Store: store, Log: slog.New(slog.DiscardHandler), Now: l.Now}
	if err := l2.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !l2.replayFinal(t.Context(), tk.ID) {
		t.Error("a multivariant replay whose cuts are VOD is not final")
	}

	dnr := true
	if _, err := l.Update(t.Context(), tk.ID, TalkPatch{DoNotRecord: &dnr}); err != nil {
		t.Fatal(err)
	}
	objs, err := store.List(t.Context(), "talks/"+tk.ID+"/index")
	if err != nil || len(objs) != 0 {
		t.Errorf("do_not_record left %v (%v)", objs, err)
	}
}

// TestSelect_renditionDirs: a stage's rendition directories are never
// taken for runs, and a talk on a stage without renditions keeps a media
// playlist.
func TestSelect_renditionDirs(t *testing.T) {
	store := recDirStore(t)
	recordPair(t, store)
	runs, err := listRuns(t.Context(), store, "main")
	if err != nil || len(runs) != 1 || runs[0] != "20260301T100000Z" {
		t.Fatalf("runs of main: %v %v", runs, err)
	}
	rs, err := renditionsOf(t.Context(), store, "main")
	if err != nil || len(rs) != 1 || rs[0] != "360p" {
		t.Fatalf("renditions of main: %v %v", rs, err)
	}
	// The same over a store that is not a DirLister.
	flat := newFlakyStore(nil)
	objs, err := store.List(t.Context(), "stages/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		b := recGet(t, store, o.Key)
		if err := flat.Put(t.Context(), o.Key, bytes.NewReader(b), int64(len(b)), ""); err != nil {
			t.Fatal(err)
		}
	}
	if runs, err := listRuns(t.Context(), flat, "main"); err != nil || len(runs) != 1 {
		t.Errorf("runs over List: %v %v", runs, err)
	}
	if rs, err := renditionsOf(t.Context(), flat, "main"); err != nil || len(rs) != 1 || rs[0] != "360p" {
		t.Errorf("renditions over List: %v %v", rs, err)
	}
}
