package web

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/internal/testkit"
)

// TestMP4Download_StreamedMatchesWhole: streaming the segments box by box
// writes the same bytes as rebasing each segment whole, for ffmpeg's
// segments (styp, two sidx, moof, mdat) and for a segment of several
// fragments (two of ffmpeg's joined, as a Low-Latency segment holds its
// parts); a segment cut inside its mdat is an error.
func TestMP4Download_StreamedMatchesWhole(t *testing.T) {
	run := testkit.MakeHLSRun(t, testkit.HLSRunOptions{Seconds: 10})
	store := &archive.DirStore{Root: t.TempDir()}
	if err := store.Initialize(); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(run.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put := func(key string, b []byte) {
		if err := store.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), ""); err != nil {
			t.Fatal(err)
		}
	}
	init := read("init-0.mp4")
	segs := map[string][]byte{
		"s/1.m4s":      read("1.m4s"), // the file's 0 is 2 s into the run
		"s/joined.m4s": append(read("2.m4s"), read("3.m4s")...),
		"s/4.m4s":      read("4.m4s"),
		"s/cut.m4s":    read("4.m4s")[:len(read("4.m4s"))-100],
	}
	for k, b := range segs {
		put(k, b)
	}
	keys := []string{"s/1.m4s", "s/joined.m4s", "s/4.m4s"}

	newDownload := func(keys []string) *mp4Download {
		j := &archive.MP4Joiner{Init: init, Duration: run.Duration}
		h, err := j.Header()
		if err == nil {
			err = j.Initialize()
		}
		if err != nil {
			t.Fatal(err)
		}
		return &mp4Download{joiner: j, header: h, keys: keys}
	}
	want := func() []byte {
		dl := newDownload(nil)
		out := append([]byte(nil), dl.header...)
		for _, k := range keys {
			seg := bytes.Clone(segs[k])
			if err := dl.joiner.Fragment(seg); err != nil {
				t.Fatal(err)
			}
			out = append(out, seg...)
		}
		return out
	}()
	var got bytes.Buffer
	if err := newDownload(keys).writeTo(t.Context(), &got, store); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("streamed MP4 (%d bytes) differs from the whole-segment one (%d bytes)", got.Len(), len(want))
	}
	if bytes.Equal(segs["s/4.m4s"], want[len(want)-len(segs["s/4.m4s"]):]) {
		t.Fatal("the last segment was not rebased: the comparison proves nothing")
	}
	err := newDownload([]string{"s/1.m4s", "s/cut.m4s"}).writeTo(t.Context(), &bytes.Buffer{}, store)
	if err == nil {
		t.Fatal("a segment cut inside its mdat streamed without an error")
	}
	t.Logf("cut segment: %v", err)
}
