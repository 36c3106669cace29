package bench

import (
	"math"
	"strings"
	"testing"
)

func TestHistogramQuantiles(t *testing.T) {
	text := `# HELP lat Latency.
# TYPE lat histogram
lat_bucket{stage="a",le="0.01"} 50
lat_bucket{stage="a",le="0.02"} 90
lat_bucket{stage="a",le="+Inf"} 100
lat_sum{stage="a"} 1
lat_count{stage="a"} 100
lat_bucket{stage="b",le="0.01"} 50
lat_bucket{stage="b",le="0.02"} 90
lat_bucket{stage="b",le="+Inf"} 100
lat_sum{stage="b"} 1
lat_count{stage="b"} 100
`
	got, n, err := HistogramQuantiles(strings.NewReader(text), "lat", 0.5, 0.7, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	if n != 200 {
		t.Fatalf("count = %d, want 200", n)
	}
	want := []float64{0.01, 0.015, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("quantiles = %v, want %v", got, want)
		}
	}
	if _, _, err := HistogramQuantiles(strings.NewReader(text), "missing", 0.5); err == nil {
		t.Fatal("want an error for a missing histogram")
	}
}
