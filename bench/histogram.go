package bench

import (
	"fmt"
	"io"
	"math"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// HistogramQuantiles reads a Prometheus text exposition and returns the
// requested quantiles (in the histogram's unit) of the named histogram, summed
// over all its label sets, plus the observation count. Within a bucket the
// value is interpolated linearly, as PromQL's histogram_quantile does, so a
// quantile is only as precise as the bucket layout.
func HistogramQuantiles(r io.Reader, name string, qs ...float64) ([]float64, uint64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, 0, fmt.Errorf("parse metrics: %w", err)
	}
	fam := fams[name]
	if fam == nil || fam.GetType() != dto.MetricType_HISTOGRAM {
		return nil, 0, fmt.Errorf("no histogram %q in the metrics", name)
	}
	cum := map[float64]uint64{}
	var total uint64
	for _, m := range fam.Metric {
		h := m.GetHistogram()
		total += h.GetSampleCount()
		for _, b := range h.Bucket {
			cum[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	bounds := make([]float64, 0, len(cum))
	for b := range cum {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = quantile(q, bounds, cum, total)
	}
	return out, total, nil
}

func quantile(q float64, bounds []float64, cum map[float64]uint64, total uint64) float64 {
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	lower, prev := 0.0, uint64(0)
	for _, b := range bounds {
		c := cum[b]
		if float64(c) >= rank {
			if math.IsInf(b, 1) {
				return lower // above the last finite bucket: report its bound
			}
			if c == prev {
				return b
			}
			return lower + (b-lower)*(rank-float64(prev))/float64(c-prev)
		}
		lower, prev = b, c
	}
	return lower
}
