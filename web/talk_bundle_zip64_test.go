package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/internal/testkit"
)

// hugeSegments serves ffmpeg's first segment as is and, for "huge.m4s", its
// second segment with the mdat replaced by one of more than 4 GiB of
// zeros (a 64-bit box size), made as it is read.
type hugeSegments struct {
	first, second []byte
	mdat          int64
}

func (h *hugeSegments) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, archive.ObjectInfo, error) {
	if !strings.HasSuffix(key, "huge.m4s") {
		return io.NopCloser(bytes.NewReader(h.first)), archive.ObjectInfo{Key: key, Size: int64(len(h.first))}, nil
	}
	at := bytes.Index(h.second, []byte("mdat")) - 4
	hdr := make([]byte, 16)
	binary.BigEndian.PutUint32(hdr, 1)
	copy(hdr[4:], "mdat")
	binary.BigEndian.PutUint64(hdr[8:], uint64(16+h.mdat))
	body := io.MultiReader(bytes.NewReader(h.second[:at]), bytes.NewReader(hdr), io.LimitReader(zeros{}, h.mdat))
	return io.NopCloser(body), archive.ObjectInfo{Key: key, Size: int64(at) + 16 + h.mdat}, nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// tail keeps the last bytes written and counts them all.
type tail struct {
	n   int64
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	t.buf = append(t.buf, p...)
	if len(t.buf) > 1<<20 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-(1<<19):]...)
	}
	return len(p), nil
}

// tailReader reads the zip's end from tail; the bytes before it (the MP4)
// read as zeros, which is what they were.
type tailReader struct{ t *tail }

func (r tailReader) ReadAt(p []byte, off int64) (int, error) {
	start := r.t.n - int64(len(r.t.buf))
	for i := range p {
		o := off + int64(i)
		switch {
		case o >= r.t.n:
			return i, io.EOF
		case o >= start:
			p[i] = r.t.buf[o-start]
		default:
			p[i] = 0
		}
	}
	return len(p), nil
}

// TestBundle_Zip64: an MP4 of more than 4 GiB goes into the zip as Zip64
// (archive/zip switches by itself for a streamed entry), and the zip's
// directory gives its real size. Nothing is stored: the zip is counted and
// only its end kept.
func TestBundle_Zip64(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 4 GiB through the zip writer")
	}
	run := testkit.MakeHLSRun(t, testkit.HLSRunOptions{Seconds: 4})
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(run.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const mdat = 4<<30 + 12345
	store := &hugeSegments{first: read("0.m4s"), second: read("1.m4s"), mdat: mdat}
	j := &archive.MP4Joiner{Init: read("init-0.mp4"), Duration: 4 * time.Second}
	header, err := j.Header()
	if err == nil {
		err = j.Initialize()
	}
	if err != nil {
		t.Fatal(err)
	}
	dl := &mp4Download{joiner: j, header: header, keys: []string{"s/0.m4s", "s/huge.m4s"}}
	b := &bundle{talk: archive.Talk{ID: "big", Title: "Big"}, folder: "big/"}
	b.add(bundlePart{name: "big.mp4", mp4: dl, size: mdat})
	out := &tail{}
	if err := (&replayHandlers{}).writeBundle(t.Context(), out, b, store); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(tailReader{out}, out.n)
	if err != nil {
		t.Fatalf("the zip's directory does not read: %v", err)
	}
	f := zr.File[0]
	want := uint64(len(header)+len(store.first)) + uint64(bytes.Index(store.second, []byte("mdat"))-4) + 16 + mdat
	if f.Name != "big/big.mp4" || f.UncompressedSize64 != want || f.Method != zip.Store {
		t.Fatalf("zip entry %s: %d bytes, method %d; want %d bytes stored", f.Name, f.UncompressedSize64, f.Method, want)
	}
	if !bytes.Contains(out.buf, []byte{0x50, 0x4b, 0x06, 0x06}) {
		t.Error("no Zip64 end of central directory record")
	}
}
