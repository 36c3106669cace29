package hls

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkWindow_render renders a live window of 6 segments (12 s) with a
// discontinuity, classic and with 200 ms parts (10 parts listed per segment
// for the last three, 4 of the segment in progress), as a snapshot is
// rendered by the first request after each change.
func BenchmarkWindow_render(b *testing.B) {
	b.Run("classic", func(b *testing.B) { benchmarkRender(b, 0) })
	b.Run("parts-200ms", func(b *testing.B) { benchmarkRender(b, 200*time.Millisecond) })
}

func benchmarkRender(b *testing.B, part time.Duration) {
	w := newWindow(12*time.Second, 2*time.Second, part)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 20 {
		init := "init-0.mp4"
		if i >= 17 {
			init = "init-1.mp4"
		}
		if part > 0 {
			for n := range 10 {
				w.addPart(partEntry{name: partName(uint64(i), n), dur: part, independent: n == 0}, segHead{init: init})
			}
		}
		w.add(entry{seq: uint64(i), name: strconv.Itoa(i) + ".m4s", initName: init, dur: 2 * time.Second,
			start: t0.Add(time.Duration(i) * 2 * time.Second), disc: i == 17}, init)
	}
	if part > 0 {
		for n := range 4 {
			w.addPart(partEntry{name: partName(20, n), dur: part, independent: n == 0}, segHead{init: "init-1.mp4"})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.snapshot(true).render(false, nil); err != nil {
			b.Fatal(err)
		}
	}
}
