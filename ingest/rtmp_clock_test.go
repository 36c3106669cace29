package ingest

import (
	"testing"
	"time"
)

func TestRTMPGrid_Snap(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		step time.Duration
		in   []time.Duration
		want []time.Duration
	}{
		{"30 fps rounded to ms", time.Second / 30,
			[]time.Duration{0, 33 * ms, 67 * ms, 100 * ms, 133 * ms, 167 * ms},
			[]time.Duration{0, time.Second / 30, 2 * time.Second / 30, 3 * time.Second / 30, 4 * time.Second / 30, 5 * time.Second / 30}},
		{"dropped frame keeps the grid", time.Second / 30,
			[]time.Duration{0, 33 * ms, 100 * ms},
			[]time.Duration{0, time.Second / 30, 3 * time.Second / 30}},
		{"off-grid passes unchanged", time.Second / 30,
			[]time.Duration{0, 50 * ms, 83 * ms},
			[]time.Duration{0, 50 * ms, 83 * ms}},
		{"before the anchor (B-frames)", time.Second / 30,
			[]time.Duration{67 * ms, 0, 33 * ms},
			[]time.Duration{67 * ms, 67*ms - 2*time.Second/30, 67*ms - time.Second/30}},
		{"unknown step", 0,
			[]time.Duration{0, 33 * ms, 67 * ms},
			[]time.Duration{0, 33 * ms, 67 * ms}},
		{"AAC 44.1 kHz", 1024 * time.Second / 44100,
			[]time.Duration{0, 23 * ms, 46 * ms, 70 * ms},
			[]time.Duration{0, 1024 * time.Second / 44100, 2 * 1024 * time.Second / 44100, 3 * 1024 * time.Second / 44100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &rtmpGrid{step: tc.step}
			for i, in := range tc.in {
				got := g.snap(in)
				if d := got - tc.want[i]; d > time.Microsecond || d < -time.Microsecond {
					t.Fatalf("snap(%s) = %s, want %s", in, got, tc.want[i])
				}
			}
		})
	}
}
