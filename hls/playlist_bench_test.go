package hls

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkWindow_render renders a classic live window of 6 segments (12 s,
// the default window) with a discontinuity, as the segmenter does once per
// segment.
func BenchmarkWindow_render(b *testing.B) {
	w := newWindow(12*time.Second, 2*time.Second)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 20 {
		init := "init-0.mp4"
		if i >= 17 {
			init = "init-1.mp4"
		}
		w.add(entry{seq: uint64(i), name: strconv.Itoa(i) + ".m4s", initName: init, dur: 2 * time.Second,
			start: t0.Add(time.Duration(i) * 2 * time.Second), disc: i == 17}, init)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.render(); err != nil {
			b.Fatal(err)
		}
	}
}
