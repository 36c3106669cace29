package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
)

// cutT0 is the start of the first test run.
var cutT0 = time.Date(2019, 4, 21, 1, 30, 0, 0, time.UTC)

func libStore(tb testing.TB) *DirStore {
	tb.Helper()
	s := &DirStore{Root: tb.TempDir()}
	if err := s.Initialize(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// cutRun describes a run to write in the bucket's contract format.
type cutRun struct {
	start time.Time
	n     int
	dur   time.Duration
	ended bool
	// initChangeAt, when > 0, switches to init-1.mp4 (after a discontinuity)
	// at that segment.
	initChangeAt int
}

func (r cutRun) name() string { return r.start.UTC().Format(runNameLayout) }

// runPlaylistText renders a run playlist as the recorder does (bucket
// contract): written here by hand so that the cut is tested against the
// contract, not against the recorder's code.
func (r cutRun) playlist() []byte {
	var b bytes.Buffer
	typ := "EVENT"
	if r.ended {
		typ = "VOD"
	}
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-PLAYLIST-TYPE:%s\n", typ)
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init-0.mp4\"\n", int(r.dur.Round(time.Second)/time.Second))
	for i := 0; i < r.n; i++ {
		if r.initChangeAt > 0 && i == r.initChangeAt {
			b.WriteString("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-1.mp4\"\n")
		}
		at := r.start.Add(time.Duration(i) * r.dur)
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%.3f,\n%d.m4s\n", at.Format("2006-01-02T15:04:05.000Z07:00"), r.dur.Seconds(), i)
	}
	if r.ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}

// write puts the run's playlist, init segment(s) and (when media) a tiny
// object per segment into the store.
func (r cutRun) write(tb testing.TB, s Store, stage string, media bool) {
	tb.Helper()
	prefix := "stages/" + stage + "/" + r.name() + "/"
	put := func(key string, data []byte) {
		if err := putBytes(context.Background(), s, prefix+key, data); err != nil {
			tb.Fatal(err)
		}
	}
	if media {
		put("init-0.mp4", []byte("init"))
		if r.initChangeAt > 0 {
			put("init-1.mp4", []byte("init"))
		}
		for i := 0; i < r.n; i++ {
			put(fmt.Sprintf("%d.m4s", i), []byte("seg"))
		}
	}
	put("index.m3u8", r.playlist())
}

func cutWindow(start time.Time, end *time.Time) *Window { return &Window{Start: start, End: end} }

func libPtr[T any](v T) *T { return &v }

func libGet(tb testing.TB, s Store, key string) []byte {
	tb.Helper()
	rc, _, err := s.Get(context.Background(), key, 0, -1)
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestCut(t *testing.T) {
	run1 := cutRun{start: cutT0, n: 30, dur: 2 * time.Second, ended: true}                       // 01:30:00–01:31:00
	run2 := cutRun{start: cutT0.Add(2 * time.Minute), n: 30, dur: 2 * time.Second, ended: false} // 01:32:00–01:33:00
	tests := []struct {
		name      string
		runs      []cutRun
		win       *Window
		uris      []string // first and last segment URIs
		maps      []string
		segments  int
		offset    string
		final     bool
		discCount int
	}{
		{
			name: "inside one run", runs: []cutRun{run1},
			win:  cutWindow(cutT0.Add(10500*time.Millisecond), libPtr(cutT0.Add(20*time.Second))),
			uris: []string{"../../stages/main/20190421T013000Z/5.m4s", "../../stages/main/20190421T013000Z/9.m4s"},
			maps: []string{"../../stages/main/20190421T013000Z/init-0.mp4"}, segments: 5, offset: "0.500", final: true,
		},
		{
			name: "spanning two runs", runs: []cutRun{run1, run2},
			win:      cutWindow(cutT0.Add(50*time.Second), libPtr(cutT0.Add(2*time.Minute+5*time.Second))),
			uris:     []string{"../../stages/main/20190421T013000Z/25.m4s", "../../stages/main/20190421T013200Z/2.m4s"},
			maps:     []string{"../../stages/main/20190421T013000Z/init-0.mp4", "../../stages/main/20190421T013200Z/init-0.mp4"},
			segments: 8, offset: "0.000", final: true, discCount: 1,
		},
		{
			name: "live", runs: []cutRun{run1, run2},
			win:  cutWindow(cutT0.Add(2*time.Minute+30*time.Second+1500*time.Millisecond), nil),
			uris: []string{"../../stages/main/20190421T013200Z/15.m4s", "../../stages/main/20190421T013200Z/29.m4s"},
			maps: []string{"../../stages/main/20190421T013200Z/init-0.mp4"}, segments: 15, offset: "1.500",
		},
		{
			name: "ended, end not stored yet", runs: []cutRun{run1, run2},
			win:  cutWindow(cutT0.Add(2*time.Minute+50*time.Second), libPtr(cutT0.Add(4*time.Minute))),
			uris: []string{"../../stages/main/20190421T013200Z/25.m4s", "../../stages/main/20190421T013200Z/29.m4s"},
			maps: []string{"../../stages/main/20190421T013200Z/init-0.mp4"}, segments: 5, offset: "0.000",
		},
		{
			name: "ended after the run ended", runs: []cutRun{run1},
			win:  cutWindow(cutT0.Add(55*time.Second), libPtr(cutT0.Add(90*time.Second))),
			uris: []string{"../../stages/main/20190421T013000Z/27.m4s", "../../stages/main/20190421T013000Z/29.m4s"},
			maps: []string{"../../stages/main/20190421T013000Z/init-0.mp4"}, segments: 3, offset: "1.000", final: true,
		},
		{
			name: "init change inside a run", runs: []cutRun{{start: cutT0, n: 10, dur: 2 * time.Second, ended: true, initChangeAt: 5}},
			win:      cutWindow(cutT0.Add(4*time.Second), libPtr(cutT0.Add(14*time.Second))),
			uris:     []string{"../../stages/main/20190421T013000Z/2.m4s", "../../stages/main/20190421T013000Z/6.m4s"},
			maps:     []string{"../../stages/main/20190421T013000Z/init-0.mp4", "../../stages/main/20190421T013000Z/init-1.mp4"},
			segments: 5, offset: "0.000", final: true, discCount: 1,
		},
		{
			name: "no recording", runs: nil, win: cutWindow(cutT0, libPtr(cutT0.Add(time.Minute))),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := libStore(t)
			for _, r := range tc.runs {
				r.write(t, s, "main", true)
			}
			talk := Talk{ID: "talk", Title: "T", Stage: "main", Recording: tc.win}
			pl, err := Cut(t.Context(), s, talk)
			if err != nil {
				t.Fatal(err)
			}
			if stored := libGet(t, s, "talks/talk/index.m3u8"); !bytes.Equal(stored, pl) {
				t.Fatal("stored playlist differs from the returned one")
			}
			p, err := hlscheck.CheckMediaPlaylist(pl)
			if err != nil {
				t.Fatalf("%v\n%s", err, pl)
			}
			if len(p.Segments) != tc.segments {
				t.Fatalf("got %d segments, want %d\n%s", len(p.Segments), tc.segments, pl)
			}
			want := "EVENT"
			if tc.final {
				want = "VOD"
			}
			if p.PlaylistType != want || p.EndList != tc.final || p.Version != 7 || !p.IndependentSegments {
				t.Fatalf("type %s endlist %v version %d independent %v, want %s\n%s", p.PlaylistType, p.EndList, p.Version, p.IndependentSegments, want, pl)
			}
			if tc.segments == 0 {
				if strings.Contains(string(pl), "EXT-X-START") {
					t.Fatalf("EXT-X-START without segments\n%s", pl)
				}
				return
			}
			if u := p.URIs(); u[0] != tc.uris[0] || u[len(u)-1] != tc.uris[1] {
				t.Fatalf("segments %s … %s, want %s … %s", u[0], u[len(u)-1], tc.uris[0], tc.uris[1])
			}
			if m := p.MapURIs(); strings.Join(m, " ") != strings.Join(tc.maps, " ") {
				t.Fatalf("maps %v, want %v", m, tc.maps)
			}
			if n := strings.Count(string(pl), "#EXT-X-DISCONTINUITY\n"); n != tc.discCount {
				t.Fatalf("%d discontinuities, want %d", n, tc.discCount)
			}
			if start := "#EXT-X-START:TIME-OFFSET=" + tc.offset + ",PRECISE=YES\n"; !strings.Contains(string(pl), start) {
				t.Fatalf("want %q in\n%s", start, pl)
			}
			// Every URI resolves, relative to talks/talk/, to a stored object.
			for _, u := range append(p.URIs(), p.MapURIs()...) {
				key := strings.TrimPrefix(u, "../../")
				if _, err := s.Stat(t.Context(), key); err != nil {
					t.Fatalf("%s: %v", u, err)
				}
			}
		})
	}
}

// TestCut_LiveThenFinal follows one talk: EVENT while live, growing as the
// run grows, then VOD with EXT-X-ENDLIST once stopped and covered.
func TestCut_LiveThenFinal(t *testing.T) {
	s := libStore(t)
	run := cutRun{start: cutT0, n: 10, dur: 2 * time.Second}
	run.write(t, s, "main", false)
	talk := Talk{ID: "live", Title: "Live", Stage: "main", Recording: cutWindow(cutT0.Add(3*time.Second), nil)}
	pl, err := Cut(t.Context(), s, talk)
	if err != nil {
		t.Fatal(err)
	}
	var tr hlscheck.Tracker
	check := func(pl []byte, wantSegs int, wantType string) {
		t.Helper()
		p, err := hlscheck.CheckMediaPlaylist(pl)
		if err != nil {
			t.Fatalf("%v\n%s", err, pl)
		}
		if len(p.Segments) != wantSegs || p.PlaylistType != wantType {
			t.Fatalf("%d segments, type %s; want %d, %s\n%s", len(p.Segments), p.PlaylistType, wantSegs, wantType, pl)
		}
		if err := tr.Next(pl); err != nil {
			t.Fatalf("reload: %v", err)
		}
	}
	check(pl, 9, "EVENT")

	run.n = 20
	run.write(t, s, "main", false)
	if pl, err = Cut(t.Context(), s, talk); err != nil {
		t.Fatal(err)
	}
	check(pl, 19, "EVENT")

	// Stopped at the end of the stored recording (as Stop does, at "now").
	talk.Recording.End = libPtr(cutT0.Add(40 * time.Second))
	if pl, err = Cut(t.Context(), s, talk); err != nil {
		t.Fatal(err)
	}
	check(pl, 19, "VOD")
	if !bytes.HasSuffix(pl, []byte("#EXT-X-ENDLIST\n")) {
		t.Fatalf("no ENDLIST\n%s", pl)
	}
}

func TestSelect_Errors(t *testing.T) {
	s := libStore(t)
	for _, talk := range []Talk{
		{ID: "../x", Stage: "main", Recording: cutWindow(cutT0, nil)},
		{ID: "ok", Stage: "a/b", Recording: cutWindow(cutT0, nil)},
		{ID: "ok", Stage: "main"},
	} {
		if _, err := Select(t.Context(), s, talk); err == nil {
			t.Errorf("Select(%+v): no error", talk)
		}
	}
}

// TestCut_HostileRunPlaylist: URIs that would leave the run's directory
// never reach the cut.
func TestCut_HostileRunPlaylist(t *testing.T) {
	s := libStore(t)
	pl := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init-0.mp4\"\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2019-04-21T01:30:00.000Z\n#EXTINF:2.000,\n../../../talks/x/talk.json\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2019-04-21T01:30:02.000Z\n#EXTINF:2.000,\nhttps://evil.example/1.m4s\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2019-04-21T01:30:04.000Z\n#EXTINF:2.000,\n2.m4s\n"
	if err := putBytes(t.Context(), s, "stages/main/20190421T013000Z/index.m3u8", []byte(pl)); err != nil {
		t.Fatal(err)
	}
	sel, err := Select(t.Context(), s, Talk{ID: "x", Stage: "main", Recording: cutWindow(cutT0, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Parts) != 1 || len(sel.Parts[0].Segments) != 1 || sel.Parts[0].Segments[0].Key != "stages/main/20190421T013000Z/2.m4s" {
		t.Fatalf("selection %+v", sel)
	}
}

func TestParseRunPlaylist_FFmpegDates(t *testing.T) {
	pl := "#EXTM3U\n#EXT-X-MAP:URI=\"init-0.mp4\"\n#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2019-04-21T03:30:00.250+0200\n0.m4s\n#EXTINF:1.5,\n1.m4s\n#EXT-X-ENDLIST\n"
	p, err := parseRunPlaylist([]byte(pl))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Segments) != 2 || !p.Ended {
		t.Fatalf("%+v", p)
	}
	if got := p.Segments[0].Start; !got.Equal(cutT0.Add(250 * time.Millisecond)) {
		t.Errorf("start %s", got)
	}
	if got := p.Segments[1].Start; !got.Equal(cutT0.Add(2250 * time.Millisecond)) {
		t.Errorf("second start %s, want inferred from the first", got)
	}
}

func FuzzParseRunPlaylist(f *testing.F) {
	f.Add(cutRun{start: cutT0, n: 3, dur: 2 * time.Second, ended: true, initChangeAt: 1}.playlist())
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"init-0.mp4\"\n#EXTINF:2.0,\n#EXT-X-PROGRAM-DATE-TIME:2019-04-21T03:30:00.250+0200\n0.m4s\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"../x\"\n#EXTINF:NaN,\n../../a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseRunPlaylist(data)
		if err != nil {
			return
		}
		for _, s := range p.Segments {
			if !validFileName(s.Name) || !validFileName(s.Init) || s.Start.IsZero() || s.Duration < 0 || s.Duration > maxSegmentDuration {
				t.Fatalf("bad segment %+v", s)
			}
			if err := ValidKey("stages/main/r/" + s.Name); err != nil {
				t.Fatal(err)
			}
		}
		// Whatever was selected renders into a playlist that checks.
		sel := Selection{Final: p.Ended}
		for _, s := range p.Segments {
			sel.Parts = append(sel.Parts, CutPart{Run: "r", Init: "stages/main/r/" + s.Init,
				Segments: []CutSegment{{Key: "stages/main/r/" + s.Name, Start: s.Start, Duration: s.Duration}}})
		}
		if len(sel.Parts) > 0 && len(p.Segments) == len(cutUniqueNames(p.Segments)) {
			pl, err := sel.Playlist()
			if err != nil {
				t.Fatalf("the selection does not render: %v", err)
			}
			if _, err := hlscheck.CheckMediaPlaylist(pl); err != nil {
				t.Fatalf("%v\n%s", err, pl)
			}
		}
	})
}

func cutUniqueNames(segs []runSegment) map[string]bool {
	m := map[string]bool{}
	for _, s := range segs {
		m[s.Name] = true
	}
	return m
}

// BenchmarkCut_TwoHours re-cuts a 2-hour talk: 3,600 segments of 2 s over
// three runs, one of them still open, from a DirStore. "select" is the reads
// (listing the stage, reading and parsing the run playlists), "render" the
// playlist, "cut" both plus the durable (fsynced) write of the playlist.
func BenchmarkCut_TwoHours(b *testing.B) {
	s := libStore(b)
	start := cutT0
	for _, n := range []int{1200, 1200, 1300} {
		r := cutRun{start: start, n: n, dur: 2 * time.Second, ended: n != 1300}
		r.write(b, s, "main", true)
		start = start.Add(time.Duration(n)*2*time.Second + time.Minute)
	}
	talk := Talk{ID: "long", Title: "Long", Stage: "main", Recording: cutWindow(cutT0.Add(time.Second), libPtr(cutT0.Add(2*time.Hour+2*time.Minute)))}
	sel, err := Select(b.Context(), s, talk)
	if err != nil {
		b.Fatal(err)
	}
	if n := len(sel.Parts[0].Segments) + len(sel.Parts[1].Segments) + len(sel.Parts[2].Segments); n != 3600 {
		b.Fatalf("selected %d segments, want 3600", n)
	}
	b.Run("select", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Select(b.Context(), s, talk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sel.Playlist(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("select-dirlister", func(b *testing.B) {
		ds := dirListStore{s}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Select(b.Context(), ds, talk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cut", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Cut(b.Context(), s, talk); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// dirListStore adds DirLister to a DirStore, as a backend may.
type dirListStore struct{ *DirStore }

func (d dirListStore) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.Root, filepath.FromSlash(prefix)))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
