package ingest

import (
	"testing"
	"time"
)

func TestRTMPGrid_Snap(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		step float64 // nanoseconds
		in   []time.Duration
		want []time.Duration
	}{
		{"keyframe two seconds on lands on two seconds", 1e9 / 30.0,
			[]time.Duration{0, 2000 * ms, 4000 * ms, 3600 * time.Second},
			[]time.Duration{0, 2 * time.Second, 4 * time.Second, 3600 * time.Second}},
		{"30 fps rounded to ms", 1e9 / 30.0,
			[]time.Duration{0, 33 * ms, 67 * ms, 100 * ms, 133 * ms, 167 * ms},
			[]time.Duration{0, time.Second / 30, 2 * time.Second / 30, 3 * time.Second / 30, 4 * time.Second / 30, 5 * time.Second / 30}},
		{"dropped frame keeps the grid", 1e9 / 30.0,
			[]time.Duration{0, 33 * ms, 100 * ms},
			[]time.Duration{0, time.Second / 30, 3 * time.Second / 30}},
		{"off-grid passes unchanged", 1e9 / 30.0,
			[]time.Duration{0, 50 * ms, 83 * ms},
			[]time.Duration{0, 50 * ms, 83 * ms}},
		{"before the anchor (B-frames)", 1e9 / 30.0,
			[]time.Duration{67 * ms, 0, 33 * ms},
			[]time.Duration{67 * ms, 67*ms - 2*time.Second/30, 67*ms - time.Second/30}},
		{"unknown step", 0,
			[]time.Duration{0, 33 * ms, 67 * ms},
			[]time.Duration{0, 33 * ms, 67 * ms}},
		{"AAC 44.1 kHz", 1024e9 / 44100.0,
			[]time.Duration{0, 23 * ms, 46 * ms, 70 * ms},
			[]time.Duration{0, 1024 * time.Second / 44100, 2 * 1024 * time.Second / 44100, 3 * 1024 * time.Second / 44100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &rtmpGrid{step: tc.step}
			for i, in := range tc.in {
				got := g.snap(in)
				if d := got - tc.want[i]; d > time.Microsecond || d < -time.Microsecond || (tc.want[i]%time.Second == 0 && d != 0) {
					t.Fatalf("snap(%s) = %s, want %s", in, got, tc.want[i])
				}
			}
		})
	}
}
