package ingest

import (
	"math"
	"time"

	"github.com/bluenviron/gortmplib"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// rtmpGrid removes the rounding of RTMP timestamps. FLV carries whole
// milliseconds, so 30 fps frames arrive 33, 33 and 34 ms apart and AAC frames
// of 23.22 ms as 23 or 24; players that guess the frame rate from the first
// packets (ffmpeg among them) then produce colliding timestamps. When the true
// step is known — the frame duration the SPS declares, or 1024 samples of AAC —
// a timestamp within 1 ms of the grid anchored at the first one is put on it.
// Anything further off (a dropped frame, variable frame rate) passes unchanged.
//
// The step is kept in fractional nanoseconds and every point is rounded from
// the anchor: with a step truncated to whole nanoseconds, frame 60 of 30 fps
// would land 20 ns before 2 s, and the segmenter would miss the keyframe that
// ends a 2 s segment (issue 13, finding 13).
type rtmpGrid struct {
	step   float64 // nanoseconds; 0: unknown, timestamps pass unchanged
	anchor time.Duration
	set    bool
}

func newRTMPGrid(tr *gortmplib.Track) *rtmpGrid {
	g := &rtmpGrid{}
	var fps float64
	switch c := tr.Codec.(type) {
	case *rtmpcodecs.H264:
		var sps h264.SPS
		if sps.Unmarshal(c.SPS) == nil {
			fps = sps.FPS()
		}
	case *rtmpcodecs.H265:
		var sps h265.SPS
		if sps.Unmarshal(c.SPS) == nil {
			fps = sps.FPS()
		}
	case *rtmpcodecs.MPEG4Audio:
		if c.Config != nil && c.Config.SampleRate > 0 {
			g.step = 1024 * float64(time.Second) / float64(c.Config.SampleRate)
		}
	}
	if fps >= 1 && fps <= 240 {
		g.step = float64(time.Second) / fps
	}
	return g
}

// snap puts t on the grid when it is within 1 ms of it.
func (g *rtmpGrid) snap(t time.Duration) time.Duration {
	if g.step <= 0 {
		return t
	}
	if !g.set {
		g.anchor, g.set = t, true
		return t
	}
	n := math.Round(float64(t-g.anchor) / g.step)
	on := g.anchor + time.Duration(math.Round(n*g.step))
	if diff := on - t; diff <= time.Millisecond && diff >= -time.Millisecond {
		return on
	}
	return t
}
