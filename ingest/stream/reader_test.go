package stream

import (
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
