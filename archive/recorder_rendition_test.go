package archive

import (
	"path/filepath"
	"testing"
)

// TestRecorder_Renditions records a stage's source and one rendition side by
// side: the source's keys stay stages/{stage}/{run}/…, the rendition's go
// below stages/{stage}/{rendition}/{run}/…, each with its own run playlist.
// A restart over the spool closes both runs where they belong.
func TestRecorder_Renditions(t *testing.T) {
	md := makeMedia(t, 4, "160x120")
	store := recDirStore(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	var stored []string
	r := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir, OnRunStored: func(stage, run string) {
		stored = append(stored, stage+" "+run)
	}})
	const run = "20260301T100000Z"
	src := md.segments("main", run, 0, "init-0.mp4", recT0)
	ren := md.segments("main", run, 0, "init-0.mp4", recT0)
	for _, s := range ren {
		s.Rendition = "360p"
	}
	for i := range src {
		r.SegmentReady(src[i])
		r.SegmentReady(ren[i])
	}
	r.RunEnded("main", "360p", run)
	recFlush(t, r)
	checkRun(t, store, src)
	pl := checkRun(t, store, ren)
	if !pl.EndList {
		t.Error("the rendition's run did not end")
	}
	for _, s := range stored {
		if s != "main "+run {
			t.Errorf("OnRunStored(%s), want the stage's name, not the rendition's directory", s)
		}
	}
	r.Close()

	// The source's run is still open: a new recorder over the same spool
	// closes it, and leaves the rendition's run as it was.
	r2 := startRecorder(t, &Recorder{Store: store, SpoolDir: spoolDir})
	recFlush(t, r2)
	if pl := checkRun(t, store, src); !pl.EndList {
		t.Error("the source's run was not closed by the restart")
	}
	checkRun(t, store, ren)
}

func TestRunKeyOf(t *testing.T) {
	for dir, want := range map[string]runKey{
		"stages/main/20260301T100000Z":      {"main", "20260301T100000Z"},
		"stages/main/360p/20260301T100000Z": {"main/360p", "20260301T100000Z"},
		"stages/main":                       {},
		"talks/x/y":                         {},
		"stages/a/b/c/d":                    {},
	} {
		if got := runKeyOf(dir); got != want {
			t.Errorf("runKeyOf(%q) = %v, want %v", dir, got, want)
		}
	}
}
