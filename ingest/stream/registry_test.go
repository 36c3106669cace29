package stream

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

func newTestRegistry(t *testing.T, queue int) *Registry {
	t.Helper()
	r := &Registry{QueueSize: queue}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func videoStream(stage string) *Stream {
	return &Stream{Stage: stage, Source: "test", Tracks: []*Track{{Codec: &mp4codecs.H264{SPS: []byte{0x67}, PPS: []byte{0x68}}}}}
}

// collector records events; block, when set, holds the reader goroutine.
type collector struct {
	mu     sync.Mutex
	events []Event
	block  chan struct{}
	// entered, when set, is closed at the first event, before fn blocks.
	entered   chan struct{}
	enterOnce sync.Once
}

func (c *collector) fn(ev Event) {
	if c.entered != nil {
		c.enterOnce.Do(func() { close(c.entered) })
	}
	if c.block != nil {
		<-c.block
	}
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
}

func (c *collector) snapshot() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRegistry_Publish(t *testing.T) {
	cases := []struct {
		name    string
		stream  *Stream
		wantErr string
	}{
		{"valid", videoStream("main"), ""},
		{"uppercase stage", videoStream("Main"), "invalid stage"},
		{"slash", videoStream("a/b"), "invalid stage"},
		{"dots", videoStream(".."), "invalid stage"},
		{"too long", videoStream(string(make([]byte, 65))), "invalid stage"},
		{"no tracks", &Stream{Stage: "main"}, "no track"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t, 16)
			p, err := r.Publish(tc.stream)
			if tc.wantErr == "" {
				if err != nil || !r.Live("main") {
					t.Fatalf("Publish = %v, live = %v", err, r.Live("main"))
				}
				p.Close()
				p.Close() // twice is fine
				if r.Live("main") {
					t.Fatal("still live after Close")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestRegistry_SecondPublisherRefused(t *testing.T) {
	r := newTestRegistry(t, 16)
	c := &collector{}
	defer r.Subscribe("c", c.fn)()
	first, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Publish(videoStream("main")); !errors.Is(err, ErrStageBusy) {
		t.Fatalf("second Publish = %v, want ErrStageBusy", err)
	}
	first.WriteUnit(&Unit{Track: 0, RandomAccess: true, AU: [][]byte{{5}}})
	first.Close()
	if _, err := r.Publish(videoStream("main")); err != nil {
		t.Fatalf("publish after the first left: %v", err)
	}
	waitFor(t, "events", func() bool { return len(c.snapshot()) == 4 })
	ev := c.snapshot()
	if ev[0].Start == nil || ev[1].Unit == nil || !ev[2].End || ev[3].Start == nil {
		t.Fatalf("events out of order: %+v", ev)
	}
}

func TestRegistry_SlowReaderDropsUnitsNotControl(t *testing.T) {
	r := newTestRegistry(t, 4)
	slow := &collector{block: make(chan struct{})}
	fast := &collector{}
	unsubSlow := r.Subscribe("slow", slow.fn)
	defer r.Subscribe("fast", fast.fn)()
	p, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	// The publisher must never block, whatever the slow reader does.
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100; i++ {
			p.WriteUnit(&Unit{Track: 0, DTS: time.Duration(i), AU: [][]byte{{1}}})
		}
		p.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the publisher blocked on a slow reader")
	}
	close(slow.block)
	waitFor(t, "fast reader to see the end", func() bool {
		evs := fast.snapshot()
		return len(evs) > 0 && evs[len(evs)-1].End
	})
	unsubSlow()
	evs := slow.snapshot()
	var units, dropped int
	sawEnd := false
	for _, ev := range evs {
		if ev.Unit != nil {
			units++
		}
		dropped += ev.Dropped
		sawEnd = sawEnd || ev.End
	}
	if !sawEnd || evs[0].Start == nil {
		t.Fatalf("control events lost: start=%v end=%v", evs[0].Start != nil, sawEnd)
	}
	if units+dropped != 100 || dropped == 0 {
		t.Fatalf("units %d + dropped %d, want 100 with some dropped", units, dropped)
	}
	// The fast reader may have dropped some too: drops are summed over readers.
	if got := r.Stages()[0].DroppedUnits; got < int64(dropped) {
		t.Fatalf("StageInfo.DroppedUnits %d, want at least the %d the slow reader missed", got, dropped)
	}
}

func TestRegistry_Changed(t *testing.T) {
	r := newTestRegistry(t, 16)
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	c := r.Changed()
	if closed(c) {
		t.Fatal("Changed is closed before any change")
	}
	p, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	if !closed(c) {
		t.Fatal("a publish did not close Changed")
	}
	c = r.Changed()
	p.WriteUnit(&Unit{Track: 0, AU: [][]byte{{1}}})
	r.SetWarning("main", "gop", Warning{}) // no change: nothing to clear
	if closed(c) {
		t.Fatal("a unit or a no-op warning closed Changed")
	}
	r.SetWarning("main", "gop", Warn("hls.gop_long", "Seconds", "4.0"))
	if !closed(c) {
		t.Fatal("a new warning did not close Changed")
	}
	c = r.Changed()
	r.SetWarning("main", "gop", Warn("hls.gop_long", "Seconds", "4.0"))
	if closed(c) {
		t.Fatal("the same warning again closed Changed")
	}
	r.SetWarning("main", "gop", Warn("hls.gop_long", "Seconds", "5.0"))
	if !closed(c) {
		t.Fatal("a warning with new parameters did not close Changed")
	}
	c = r.Changed()
	p.Close()
	if !closed(c) {
		t.Fatal("the publisher leaving did not close Changed")
	}
}

func TestRegistry_SubscribeAnnouncesLivePublish(t *testing.T) {
	r := newTestRegistry(t, 16)
	p, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := &collector{}
	defer r.Subscribe("late", c.fn)()
	waitFor(t, "start", func() bool { return len(c.snapshot()) == 1 })
	if c.snapshot()[0].Start != p.Stream() {
		t.Fatal("a late reader was not told about the live publish")
	}
}

func TestRegistry_StagesStats(t *testing.T) {
	r := newTestRegistry(t, 16)
	r.SetWarning("main", "gop", Warn("hls.gop_long")) // ignored: unknown stage
	p, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	r.SetWarning("main", "gop", Warn("hls.gop_long", "Seconds", "4.0", "Target", "2s"))
	base := time.Now().Add(-3 * time.Second)
	for i := 0; i < 90; i++ { // 3 s of 30 fps, 1 kB each, keyframe every 2 s
		p.WriteUnit(&Unit{Track: 0, DTS: time.Duration(i) * time.Second / 30, RandomAccess: i%60 == 0,
			AU: [][]byte{make([]byte, 1000)}, Received: base.Add(time.Duration(i) * time.Second / 30)})
	}
	st := r.Stages()
	if len(st) != 1 || !st[0].Live || st[0].Source != "test" || len(st[0].Warnings) != 1 {
		t.Fatalf("stages = %+v", st)
	}
	tr := st[0].Tracks[0]
	if tr.Kind != "video" || tr.Codec != "H264" || tr.KeyframeInterval != 2 {
		t.Fatalf("track = %+v", tr)
	}
	if tr.FrameRate < 25 || tr.FrameRate > 35 || tr.Bitrate < 200_000 || tr.Bitrate > 280_000 {
		t.Fatalf("measured %v fps, %d bit/s; want ~30 fps, ~240 kbit/s", tr.FrameRate, tr.Bitrate)
	}
	// Arrivals in bursts (a loaded machine, a congested link): 3 s more of
	// media arriving within 100 ms still measures 30 fps, from the media's
	// timestamps rather than the clock.
	burst := time.Now().Add(-100 * time.Millisecond)
	for i := 90; i < 180; i++ {
		p.WriteUnit(&Unit{Track: 0, DTS: time.Duration(i) * time.Second / 30, RandomAccess: i%60 == 0,
			AU: [][]byte{make([]byte, 1000)}, Received: burst.Add(time.Duration(i-90) * time.Millisecond)})
	}
	if fr := r.Stages()[0].Tracks[0].FrameRate; fr < 29.5 || fr > 30.5 {
		t.Fatalf("measured %v fps from a burst of 30 fps media, want 30", fr)
	}
	p.Close()
	st = r.Stages()
	if st[0].Live || st[0].LastSeen == nil {
		t.Fatalf("after close: %+v", st[0])
	}
}

func FuzzValidStage(f *testing.F) {
	for _, s := range []string{"main", "hall-b", "", "Main", "../x", "a/b", "x\x00", "ä", string(make([]byte, 65))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidStage(s) {
			return
		}
		if len(s) < 1 || len(s) > 64 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("accepted %q with %q", s, c)
			}
		}
	})
}

func TestRegistry_SubscribePath(t *testing.T) {
	r := newTestRegistry(t, 4)
	live, err := r.Publish(videoStream("live-before"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	mainOnly := &collector{block: make(chan struct{}), entered: make(chan struct{})}
	unsub := r.SubscribePath("main-only", "main", "", mainOnly.fn)
	other, err := r.Publish(videoStream("other"))
	if err != nil {
		t.Fatal(err)
	}
	main, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	// The reader holds main's Start in its callback: its queue is empty
	// again, for the units below.
	<-mainOnly.entered
	rs := videoStream("main")
	rs.Rendition = "480p"
	rend, err := r.Publish(rs)
	if err != nil {
		t.Fatal(err)
	}
	// The blocked reader's queue (4 units) holds main's source units only:
	// other stages' and main's rendition's units neither fill it nor count
	// as dropped on main.
	for i := 0; i < 10; i++ {
		other.WriteUnit(&Unit{Track: 0, AU: [][]byte{{1}}})
		rend.WriteUnit(&Unit{Track: 0, AU: [][]byte{{1}}})
	}
	for i := 0; i < 6; i++ {
		main.WriteUnit(&Unit{Track: 0, DTS: time.Duration(i), AU: [][]byte{{1}}})
	}
	rend.Close()
	main.Close()
	other.Close()
	close(mainOnly.block)
	unsub()
	evs := mainOnly.snapshot()
	units, dropped := 0, 0
	for _, ev := range evs {
		if ev.Stage != "main" || ev.Rendition != "" {
			t.Fatalf("a reader of main's source got an event of %q/%q: %+v", ev.Stage, ev.Rendition, ev)
		}
		if ev.Unit != nil {
			units++
		}
		dropped += ev.Dropped
	}
	if evs[0].Start == nil || !evs[len(evs)-1].End || units != 4 || dropped != 2 {
		t.Fatalf("events = %+v (units %d, dropped %d), want Start, 4 units, End with 2 dropped", evs, units, dropped)
	}
	for _, s := range r.Stages() {
		want := int64(0)
		if s.Name == "main" {
			want = 2
		}
		if s.DroppedUnits != want {
			t.Errorf("stage %s: DroppedUnits = %d, want %d", s.Name, s.DroppedUnits, want)
		}
	}
}
