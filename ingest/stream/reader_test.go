package stream

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// TestReader_lazyPush checks when a unit pushed lazily wakes the reader:
// not by itself, but with the next unit that is not lazy, a control event,
// a queue filled to a quarter, or once the oldest lazy unit waited
// maxDeferral. The reader's goroutine is not started: the wake channel
// shows the wake-ups.
func TestReader_lazyPush(t *testing.T) {
	t0 := time.Now()
	unit := func(after time.Duration) Event { return Event{Unit: &Unit{Received: t0.Add(after)}} }
	// woken takes a wake-up and, as the goroutine would, the queue.
	woken := func(rd *reader) bool {
		select {
		case <-rd.wake:
			rd.queue, rd.units = nil, 0
			return true
		default:
			return false
		}
	}
	rd := &reader{size: 16, wake: make(chan struct{}, 1)}
	rd.push(unit(0), false, true)
	rd.push(unit(20*time.Millisecond), false, true)
	if woken(rd) {
		t.Fatal("a lazy unit woke the reader")
	}
	rd.push(unit(33*time.Millisecond), false, false)
	if n := len(rd.queue); !woken(rd) || n != 3 {
		t.Fatalf("a video unit after two lazy ones: not woken or %d queued; want woken, 3 queued", n)
	}

	rd.push(unit(40*time.Millisecond), false, true)
	if woken(rd) {
		t.Fatal("a lazy unit after a wake-up woke the reader")
	}
	rd.push(unit(40*time.Millisecond+maxDeferral), false, true)
	if !woken(rd) {
		t.Fatal("lazy units waiting maxDeferral did not wake the reader")
	}

	rd.push(unit(time.Second), false, true)
	rd.push(Event{End: true}, true, false)
	if !woken(rd) {
		t.Fatal("a control event did not wake the reader")
	}

	rd = &reader{size: 16, wake: make(chan struct{}, 1)}
	for i := range 3 {
		rd.push(unit(time.Duration(i)), false, true)
	}
	if woken(rd) {
		t.Fatal("three lazy units in a queue of 16 woke the reader")
	}
	rd.push(unit(3), false, true)
	if !woken(rd) {
		t.Fatal("a queue filled to a quarter with lazy units did not wake the reader")
	}
}

// TestRegistry_audioWithVideo checks that the audio of a publish with video
// reaches readers in order with the video, and that audio alone reaches them
// by itself.
func TestRegistry_audioWithVideo(t *testing.T) {
	r := newTestRegistry(t, 64)
	c := &collector{}
	defer r.Subscribe("c", c.fn)()
	audio := &Track{Codec: &mp4codecs.MPEG4Audio{}}
	av := videoStream("av")
	av.Tracks = append(av.Tracks, audio)
	p, err := r.Publish(av)
	if err != nil {
		t.Fatal(err)
	}
	p.WriteUnit(&Unit{Track: 1, DTS: 1, AU: [][]byte{{1}}})
	p.WriteUnit(&Unit{Track: 1, DTS: 2, AU: [][]byte{{2}}})
	p.WriteUnit(&Unit{Track: 0, DTS: 3, RandomAccess: true, AU: [][]byte{{3}}})
	waitFor(t, "start and three units", func() bool { return len(c.snapshot()) == 4 })
	for i, ev := range c.snapshot()[1:] {
		if ev.Unit == nil || ev.Unit.DTS != time.Duration(i+1) {
			t.Fatalf("event %d: %+v; want the unit of DTS %d", i+1, ev, i+1)
		}
	}

	a, err := r.Publish(&Stream{Stage: "radio", Source: "test", Tracks: []*Track{audio}})
	if err != nil {
		t.Fatal(err)
	}
	a.WriteUnit(&Unit{Track: 0, DTS: 1, AU: [][]byte{{1}}})
	waitFor(t, "the audio-only publish's unit", func() bool {
		evs := c.snapshot()
		last := evs[len(evs)-1]
		return last.Stage == "radio" && last.Unit != nil
	})
}

// TestRegistry_inline checks an inline reader: each event is handed to fn
// before the call that wrote it returns (a unit of video, Start, End), the
// audio of a publish with video with the next video frame, and fn sees one
// event at a time, each path's in order, while publishers write at once.
func TestRegistry_inline(t *testing.T) {
	r := newTestRegistry(t, 1024)
	var busy atomic.Int32
	c := &collector{}
	unsub := r.SubscribeInline("c", func(ev Event) {
		if busy.Add(1) != 1 {
			t.Error("fn ran on two goroutines at once")
		}
		c.fn(ev)
		busy.Add(-1)
	})
	av := videoStream("av")
	av.Tracks = append(av.Tracks, &Track{Codec: &mp4codecs.MPEG4Audio{}})
	p, err := r.Publish(av)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.snapshot()); n != 1 {
		t.Fatalf("after Publish: %d events; want Start", n)
	}
	p.WriteUnit(&Unit{Track: 0, DTS: 1, RandomAccess: true, AU: [][]byte{{1}}})
	if n := len(c.snapshot()); n != 2 {
		t.Fatalf("after a video unit: %d events; want 2", n)
	}
	p.WriteUnit(&Unit{Track: 1, DTS: 2, AU: [][]byte{{2}}})
	if n := len(c.snapshot()); n != 2 {
		t.Fatalf("after an audio unit: %d events; want it to wait for the video", n)
	}
	p.WriteUnit(&Unit{Track: 0, DTS: 3, AU: [][]byte{{3}}})
	p.Close()
	ev := c.snapshot()
	if len(ev) != 5 || ev[0].Start == nil || !ev[4].End {
		t.Fatalf("events %+v; want Start, three units, End", ev)
	}
	for i, e := range ev[1:4] {
		if e.Unit == nil || e.Unit.DTS != time.Duration(i+1) {
			t.Fatalf("event %d: %+v; want the unit of DTS %d", i+1, e, i+1)
		}
	}

	// Publishers at once: each path's units arrive in order, whole.
	const units = 500
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		p, err := r.Publish(videoStream(name))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range units {
				p.WriteUnit(&Unit{Track: 0, DTS: time.Duration(i), AU: [][]byte{{1}}})
			}
			p.Close()
		}()
	}
	wg.Wait()
	unsub()
	next := map[string]time.Duration{}
	ended := map[string]bool{}
	for _, e := range c.snapshot()[5:] {
		switch {
		case e.Unit != nil:
			if ended[e.Stage] || e.Unit.DTS != next[e.Stage] {
				t.Fatalf("stage %s: unit %v after %v (ended %v)", e.Stage, e.Unit.DTS, next[e.Stage], ended[e.Stage])
			}
			next[e.Stage]++
		case e.End:
			ended[e.Stage] = true
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		if next[name] != units || !ended[name] {
			t.Errorf("stage %s: %d units, ended %v; want %d, ended", name, next[name], ended[name], units)
		}
	}
}
