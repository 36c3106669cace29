package archive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/hls"
	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/internal/testkit"
)

var _ hls.SegmentSink = (*Recorder)(nil)

// This file holds the recorder's test helpers: real fMP4 media cut by
// ffmpeg's HLS muxer, a Store that fails on demand, and recorders wired to
// them. The tests are in recorder_*_test.go.

func requireFFmpegTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install the Debian package ffmpeg to run this test", tool)
		}
	}
}

// testMedia is an init segment and the media segments that follow it.
type testMedia struct {
	init []byte
	segs [][]byte
	durs []time.Duration
}

// makeMedia encodes secs seconds of test pattern and tone at size (WxH)
// with ffmpeg, cut in 1 s fMP4 segments.
func makeMedia(t testing.TB, secs int, size string) testMedia {
	t.Helper()
	dir := t.TempDir()
	encodeMedia(t, dir, secs, size)
	return loadMedia(t, dir)
}

// encodeMedia writes makeMedia's ffmpeg output to dir.
func encodeMedia(t testing.TB, dir string, secs int, size string) {
	t.Helper()
	requireFFmpegTools(t)
	args := []string{"-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-keyint_min", "30",
		"-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_segment_type", "fmp4",
		"-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", filepath.Join(dir, "s%d.m4s"),
		filepath.Join(dir, "out.m3u8")}
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// loadMedia reads what makeMedia wrote to dir.
func loadMedia(t testing.TB, dir string) testMedia {
	t.Helper()
	var m testMedia
	var err error
	if m.init, err = os.ReadFile(filepath.Join(dir, "init.mp4")); err != nil {
		t.Fatal(err)
	}
	pl, err := os.ReadFile(filepath.Join(dir, "out.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var dur time.Duration
	for line := range strings.Lines(string(pl)) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			if err != nil {
				t.Fatalf("ffmpeg playlist: %v", err)
			}
			dur = time.Duration(f * float64(time.Second))
		} else if strings.HasSuffix(line, ".m4s") {
			b, err := os.ReadFile(filepath.Join(dir, line))
			if err != nil {
				t.Fatal(err)
			}
			m.segs = append(m.segs, b)
			m.durs = append(m.durs, dur)
		}
	}
	if len(m.segs) == 0 {
		t.Fatalf("ffmpeg wrote no segments:\n%s", pl)
	}
	return m
}

// segments makes hls.Segments of m for one run, as the segmenter would,
// numbered from seq, starting at start.
func (m testMedia) segments(stage, run string, seq uint64, initName string, start time.Time) []*hls.Segment {
	var out []*hls.Segment
	for i, data := range m.segs {
		out = append(out, &hls.Segment{
			Stage: stage, Run: run, Seq: seq, Name: strconv.FormatUint(seq, 10) + ".m4s",
			InitName: initName, Init: m.init, Data: data, Start: start, Duration: m.durs[i],
			Discontinuity: i == 0,
		})
		start = start.Add(m.durs[i])
		seq++
	}
	return out
}

// flakyStore is an in-memory Store that fails while fail says so.
type flakyStore struct {
	mu       sync.Mutex
	objs     map[string][]byte
	fail     func(attempt int) bool // attempt counts from 1; nil: never fail
	attempts []time.Time
}

func newFlakyStore(fail func(int) bool) *flakyStore {
	return &flakyStore{objs: map[string][]byte{}, fail: fail}
}

func (s *flakyStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	s.mu.Lock()
	s.attempts = append(s.attempts, time.Now())
	n := len(s.attempts)
	fail := s.fail
	s.mu.Unlock()
	if err := ValidKey(key); err != nil {
		return err
	}
	if fail != nil && fail(n) {
		return errors.New("bucket unreachable (test)")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if size >= 0 && int64(len(b)) != size {
		return fmt.Errorf("put %s: read %d bytes, size said %d", key, len(b), size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[key] = b
	return nil
}

// PutIf writes unconditionally: this store keeps no ETags (the recorder
// makes no conditional writes).
func (s *flakyStore) PutIf(ctx context.Context, key string, data []byte, contentType string, _ Condition) (string, error) {
	return "", s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), contentType)
}

func (s *flakyStore) setFail(fail func(int) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

func (s *flakyStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[key]
	if !ok {
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	b = b[min(offset, int64(len(b))):]
	if length >= 0 {
		b = b[:min(length, int64(len(b)))]
	}
	return io.NopCloser(bytes.NewReader(b)), ObjectInfo{Key: key, Size: int64(len(s.objs[key]))}, nil
}

func (s *flakyStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[key]
	if !ok {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	return ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

func (s *flakyStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ObjectInfo
	for k, b := range s.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, ObjectInfo{Key: k, Size: int64(len(b))})
		}
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (s *flakyStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, key)
	return nil
}

// recWarnings records SetWarning calls.
type recWarnings struct {
	mu   sync.Mutex
	log  []string // stage/key=msg
	last map[string]string
}

// SetWarning records sw as its code and sorted parameters
// ("archive.disk_low Free=100"), "" when cleared.
func (w *recWarnings) SetWarning(stage, key string, sw stream.Warning) {
	msg := sw.Code
	for _, k := range slices.Sorted(maps.Keys(sw.Params)) {
		msg += " " + k + "=" + sw.Params[k]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		w.last = map[string]string{}
	}
	w.log = append(w.log, stage+"/"+key+"="+msg)
	w.last[stage+"/"+key] = msg
}

func (w *recWarnings) get(stageKey string) (last string, calls []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[stageKey], slices.Clone(w.log)
}

// recLogs collects log output safely across goroutines.
type recLogs = testkit.LogBuffer

func startRecorder(t testing.TB, r *Recorder) *Recorder {
	t.Helper()
	if r.MinBackoff == 0 {
		r.MinBackoff, r.MaxBackoff = time.Millisecond, 10*time.Millisecond
	}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func recFlush(t testing.TB, r *Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// recWaitFor polls cond until it holds; the generous deadline only stops a
// broken test from hanging.
func recWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func recGet(t testing.TB, s Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkRun checks that every segment of segs (one run) is stored with its
// exact bytes and key, next to its init segment, and returns the run's
// checked playlist. Nothing else may be stored under the run's prefix.
func checkRun(t testing.TB, s Store, segs []*hls.Segment) *hlscheck.Playlist {
	t.Helper()
	prefix := "stages/" + pathDir(segs[0].Stage, segs[0].Rendition) + "/" + segs[0].Run + "/"
	want := map[string][]byte{}
	for _, seg := range segs {
		want[prefix+seg.Name] = seg.Data
		want[prefix+seg.InitName] = seg.Init
	}
	list, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range list {
		got = append(got, o.Key)
	}
	wantKeys := []string{prefix + hls.PlaylistName}
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(wantKeys)
	if !slices.Equal(got, wantKeys) {
		t.Fatalf("stored keys\n%v\nwant\n%v", got, wantKeys)
	}
	for k, b := range want {
		if !bytes.Equal(recGet(t, s, k), b) {
			t.Errorf("%s: stored bytes differ from the segment's", k)
		}
	}
	body := recGet(t, s, prefix+hls.PlaylistName)
	pl, err := hlscheck.CheckMediaPlaylist(body)
	if err != nil {
		t.Fatalf("run playlist: %v\n%s", err, body)
	}
	if len(pl.Segments) != len(segs) {
		t.Fatalf("run playlist lists %d segments, want %d:\n%s", len(pl.Segments), len(segs), body)
	}
	for i, ps := range pl.Segments {
		if ps.URI != segs[i].Name || ps.Seq != segs[i].Seq || !ps.ProgramDateTime.Equal(segs[i].Start.Round(time.Millisecond)) {
			t.Errorf("playlist segment %d: %s seq %d at %s, want %s seq %d at %s", i, ps.URI, ps.Seq, ps.ProgramDateTime,
				segs[i].Name, segs[i].Seq, segs[i].Start)
		}
	}
	return pl
}

// probeDuration returns ffprobe's duration of a playlist file, in seconds.
func probeDuration(t testing.TB, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var r struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	d, err := strconv.ParseFloat(r.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", r.Format.Duration, err)
	}
	return d
}

// spoolFiles lists the regular files left below dir.
func spoolFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitLine reads r until a line contains want.
func waitLine(r io.Reader, want string) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return nil
		}
	}
	return fmt.Errorf("no %q line: %v", want, sc.Err())
}
