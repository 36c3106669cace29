package stats

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time           { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration)      { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func (c *fakeClock) set(t time.Time)          { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func newFakeClock(t time.Time) *fakeClock     { return &fakeClock{now: t} }
func (p *fakeProgramme) set(stage, id string) { p.mu.Lock(); p.live[stage] = id; p.mu.Unlock() }

// fakeProgramme is the talk live on each stage.
type fakeProgramme struct {
	mu   sync.Mutex
	live map[string]string
}

func (p *fakeProgramme) OnStage(stage string) (string, any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.live[stage]
	return id, nil, ok && id != ""
}

var day1 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func newTestCounter(t *testing.T, dir string, clk *fakeClock, prog *fakeProgramme) *Counter {
	t.Helper()
	c := &Counter{Dir: dir, Clock: clk, Zone: time.UTC, FlushEvery: -1}
	if prog != nil {
		c.Programme = prog
	}
	if err := c.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func keys(from, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = 0x9e3779b97f4a7c15 * uint64(from+i+1)
	}
	return out
}

func TestCounter_Live(t *testing.T) {
	clk := newFakeClock(day1)
	prog := &fakeProgramme{live: map[string]string{"main": "opening"}}
	c := newTestCounter(t, t.TempDir(), clk, prog)

	// 10:00:00 three viewers, 10:00:05 the same three and two more, 10:01:10
	// two of them; the side stage has one viewer and no talk.
	c.Live(map[string][]uint64{"main": keys(0, 3), "side": keys(100, 1)})
	clk.add(5 * time.Second)
	c.Live(map[string][]uint64{"main": keys(0, 5), "side": keys(100, 1)})
	clk.add(65 * time.Second)
	c.Live(map[string][]uint64{"main": keys(3, 2)})

	d, ok := c.Day("")
	if !ok || d.Date != "2026-12-02" {
		t.Fatalf("Day = %v %v", d.Date, ok)
	}
	if d.LiveViewersUnique != 6 || d.LiveViewersPeak != 6 {
		t.Errorf("day unique %d peak %d, want 6 and 6", d.LiveViewersUnique, d.LiveViewersPeak)
	}
	if !d.LiveViewersPeakAt.Equal(day1.Add(5 * time.Second)) {
		t.Errorf("day peak at %v", d.LiveViewersPeakAt)
	}
	main := d.Stages["main"]
	if main.LiveViewersUnique != 5 || main.LiveViewersPeak != 5 {
		t.Errorf("main unique %d peak %d, want 5 and 5", main.LiveViewersUnique, main.LiveViewersPeak)
	}
	want := []Point{{At: day1, Count: 5}, {At: day1.Add(time.Minute), Count: 2}}
	if got := main.Viewers; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("main series %v, want %v", got, want)
	}
	talk := d.Talks["opening"]
	if talk.LiveViewersUnique != 5 || talk.LiveViewersPeak != 5 {
		t.Errorf("talk unique %d peak %d", talk.LiveViewersUnique, talk.LiveViewersPeak)
	}
	if _, ok := d.Talks[""]; ok || len(d.Talks) != 1 {
		t.Errorf("talks %v: the side stage has no talk live", d.Talks)
	}
}

func TestCounter_LiveAcrossNext(t *testing.T) {
	clk := newFakeClock(day1)
	prog := &fakeProgramme{live: map[string]string{"main": "first"}}
	c := newTestCounter(t, t.TempDir(), clk, prog)

	c.Live(map[string][]uint64{"main": keys(0, 4)})
	clk.add(time.Minute)
	prog.set("main", "second") // Next: some stay, some leave, some come
	c.Live(map[string][]uint64{"main": keys(2, 5)})
	clk.add(time.Minute)
	prog.set("main", "") // between talks
	c.Live(map[string][]uint64{"main": keys(20, 3)})

	first, second := c.Talk("first"), c.Talk("second")
	if first.LiveViewersUnique != 4 || first.LiveViewersPeak != 4 || len(first.Viewers) != 1 {
		t.Errorf("first: %+v", first)
	}
	if second.LiveViewersUnique != 5 || second.LiveViewersPeak != 5 || len(second.Viewers) != 1 || !second.Viewers[0].At.Equal(day1.Add(time.Minute)) {
		t.Errorf("second: %+v", second)
	}
	d, _ := c.Day("")
	if d.LiveViewersUnique != 4+3+3 {
		t.Errorf("day unique %d, want 10", d.LiveViewersUnique)
	}
}

func TestCounter_ReplayAndDownloads(t *testing.T) {
	clk := newFakeClock(day1)
	c := newTestCounter(t, t.TempDir(), clk, nil)
	v := keys(0, 3)
	for range 5 { // reloads and Range requests count once
		c.Replay("talk-a", v[0])
		c.SlideDownload("talk-a", "deck.pdf", v[0])
	}
	c.Replay("talk-a", v[1])
	c.Replay("talk-b", v[2])
	c.SlideDownload("talk-a", "notes.pdf", v[0])
	c.SlideDownload("talk-a", "deck.pdf", v[1])
	c.MP4Download("talk-a", v[2])
	c.MP4Download("talk-a", v[2])

	a := c.Talk("talk-a")
	if a.ReplayViewersUnique != 2 || a.DownloadsSlides != 3 || a.DownloadsMP4 != 1 {
		t.Errorf("talk-a %+v", a)
	}
	d, _ := c.Day("")
	if d.ReplayViewersUnique != 3 || d.DownloadsSlides != 3 || d.DownloadsMP4 != 1 {
		t.Errorf("day %+v", d.Totals)
	}
}

func TestCounter_RestartKeepsTheDay(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock(day1)
	prog := &fakeProgramme{live: map[string]string{"main": "opening"}}
	c := newTestCounter(t, dir, clk, prog)
	viewers := keys(0, 40)
	c.Live(map[string][]uint64{"main": viewers})
	c.Replay("opening", viewers[0])
	c.MP4Download("opening", viewers[1])
	c.Close() // writes the day

	clk.add(2 * time.Minute)
	c2 := newTestCounter(t, dir, clk, prog)
	d, _ := c2.Day("")
	if d.LiveViewersUnique != 40 || d.LiveViewersPeak != 40 || d.Talks["opening"].DownloadsMP4 != 1 || d.Talks["opening"].ReplayViewersUnique != 1 {
		t.Fatalf("after restart: %+v, talk %+v", d.Totals, d.Talks["opening"])
	}
	// After the restart: new viewers add; peaks and series merge.
	c2.Live(map[string][]uint64{"main": keys(100, 10)})
	tk := c2.Talk("opening")
	if tk.LiveViewersUnique != 50 || tk.LiveViewersPeak != 40 || len(tk.Viewers) != 2 {
		t.Errorf("talk after restart: %+v", tk)
	}

	// Nothing personal on disk: no viewer key in any form, and no salt.
	if err := c2.Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "2026-12-02.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(viewers, keys(100, 10)...) {
		for _, s := range []string{strconv.FormatUint(k, 10), strconv.FormatUint(k, 16), strconv.FormatInt(int64(k), 10)} {
			if strings.Contains(string(b), s) {
				t.Fatalf("the day file holds viewer key %s: %s", s, b)
			}
		}
	}
	for _, field := range []string{"seed", "salt", "sketch", "key"} {
		if strings.Contains(strings.ToLower(string(b)), field) {
			t.Errorf("the day file has a %q field: %s", field, b)
		}
	}
}

func TestCounter_DayRollsOver(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock(time.Date(2026, 12, 2, 23, 59, 30, 0, time.UTC))
	c := newTestCounter(t, dir, clk, &fakeProgramme{live: map[string]string{"main": "late"}})
	c.Live(map[string][]uint64{"main": keys(0, 7)})
	clk.set(time.Date(2026, 12, 3, 0, 0, 30, 0, time.UTC))
	c.Live(map[string][]uint64{"main": keys(0, 7)}) // the same viewers, a new day: counted again

	if d, _ := c.Day("2026-12-02"); d.LiveViewersUnique != 7 {
		t.Errorf("yesterday %+v", d.Totals)
	}
	if d, _ := c.Day(""); d.Date != "2026-12-03" || d.LiveViewersUnique != 7 {
		t.Errorf("today %s %+v", d.Date, d.Totals)
	}
	if _, ok := c.Day("2026-11-30"); ok {
		t.Error("a day with nothing counted was found")
	}
	if tk := c.Talk("late"); tk.LiveViewersUnique != 14 || len(tk.Viewers) != 2 {
		t.Errorf("a talk across midnight: %+v", tk)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"2026-12-02.json", "2026-12-03.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
}

func TestCounter_UnreadableFileSkipped(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "2026-12-02.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newTestCounter(t, dir, newFakeClock(day1), nil)
	c.Replay("x", 1)
	if d, _ := c.Day(""); d.ReplayViewersUnique != 1 {
		t.Errorf("day %+v", d.Totals)
	}
}

// TestCounter_MemoryBounded feeds a large audience and checks the sketches'
// size stays fixed (HyperLogLog) and the estimate close.
func TestCounter_MemoryBounded(t *testing.T) {
	c := newTestCounter(t, t.TempDir(), newFakeClock(day1), &fakeProgramme{live: map[string]string{"main": "big"}})
	const n = 200_000
	for i := 0; i < n; i += 10_000 {
		c.Live(map[string][]uint64{"main": keys(i, 10_000)})
	}
	c.mu.Lock()
	b, err := c.cur.talks["big"].live.MarshalBinary()
	c.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 20<<10 {
		t.Errorf("a sketch of %d viewers takes %d bytes", n, len(b))
	}
	got := c.Talk("big").LiveViewersUnique
	if got < n*97/100 || got > n*103/100 {
		t.Errorf("estimate %d for %d viewers", got, n)
	}
}

func TestFill(t *testing.T) {
	pts := []Point{{At: day1.Add(time.Minute), Count: 3}, {At: day1.Add(3 * time.Minute), Count: 1}}
	got := Fill(pts, day1, day1.Add(4*time.Minute+30*time.Second))
	want := []int{0, 3, 0, 1, 0}
	if len(got) != len(want) {
		t.Fatalf("Fill = %v", got)
	}
	for i, p := range got {
		if p.Count != want[i] || !p.At.Equal(day1.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("point %d = %v", i, p)
		}
	}
	if got := Fill(nil, time.Time{}, time.Time{}); len(got) != 0 {
		t.Errorf("empty Fill = %v", got)
	}
}

// BenchmarkCounter_Live is one sample of 2,000 viewers on one stage (web
// reports every 5 s).
func BenchmarkCounter_Live(b *testing.B) {
	c := &Counter{Dir: b.TempDir(), Clock: newFakeClock(day1), Zone: time.UTC, FlushEvery: -1, Programme: &fakeProgramme{live: map[string]string{"main": "t"}}}
	if err := c.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := map[string][]uint64{"main": keys(0, 2000)}
	b.ReportAllocs()
	for b.Loop() {
		c.Live(m)
	}
}

// BenchmarkCounter_Replay is one replay playlist fetch.
func BenchmarkCounter_Replay(b *testing.B) {
	c := &Counter{Dir: b.TempDir(), Clock: newFakeClock(day1), Zone: time.UTC, FlushEvery: -1}
	if err := c.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		c.Replay("talk", i%2000)
	}
}
