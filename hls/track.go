package hls

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
)

// track is the segmenting state of one track of a run.
//
// A sample's duration is the distance to the next sample of the track, so the
// newest sample waits in pending until the next one (or the end) arrives.
// Times are in the track's timescale ("ticks") on the stage's decode timeline.
type track struct {
	id        int // fMP4 track ID, 1-based
	codec     mp4codecs.Codec
	timescale uint32
	video     bool
	h265      bool

	pending     sample
	pendingTick uint64
	hasPending  bool
	lastDur     uint32

	samples  []sample // finished samples not yet written to a fragment
	baseTick uint64   // tick of samples[0]
	end      uint64   // tick just after the last finished sample
	// floor is the first tick a new sample may have after the segment was
	// closed early (end of publish, dropped units): the timeline never goes back.
	floor uint64
}

func newTrack(id int, c mp4codecs.Codec) (*track, error) {
	t := &track{id: id, video: c.IsVideo()}
	switch c := c.(type) {
	case *mp4codecs.H264:
		t.codec = &mp4codecs.H264{SPS: c.SPS, PPS: c.PPS}
		t.timescale = 90000
	case *mp4codecs.H265:
		t.codec = &mp4codecs.H265{VPS: c.VPS, SPS: c.SPS, PPS: c.PPS}
		t.timescale = 90000
		t.h265 = true
	case *mp4codecs.MPEG4Audio:
		if c.Config.SampleRate <= 0 {
			return nil, fmt.Errorf("AAC track %d has no sample rate", id)
		}
		t.codec = c
		t.timescale = uint32(c.Config.SampleRate)
	case *mp4codecs.Opus:
		t.codec = c
		t.timescale = 48000
	default:
		return nil, fmt.Errorf("track %d: codec %s cannot be segmented", id, stream.CodecName(c))
	}
	return t, nil
}

// defaultDuration is the duration given to a last sample whose successor never
// came and that has no predecessor either.
func (t *track) defaultDuration() uint32 {
	switch t.codec.(type) {
	case *mp4codecs.MPEG4Audio:
		return 1024
	case *mp4codecs.Opus:
		return 960
	}
	return t.timescale / 30
}

// toTicks converts a non-negative duration to the nearest tick of timescale ts
// without overflowing for long streams. Rounding (not truncating) keeps frames
// of 1/30 s exactly 3000 ticks of 90 kHz apart.
func toTicks(d time.Duration, ts uint32) uint64 {
	if d < 0 {
		return 0
	}
	sec := uint64(d / time.Second)
	rem := uint64(d % time.Second)
	return sec*uint64(ts) + (rem*uint64(ts)+uint64(time.Second)/2)/uint64(time.Second)
}

// fromTicks converts ticks back to a duration, rounding up so that a timeline
// continued from it never overlaps the samples already written.
func fromTicks(t uint64, ts uint32) time.Duration {
	sec := t / uint64(ts)
	rem := t % uint64(ts)
	return time.Duration(sec)*time.Second + time.Duration((rem*uint64(time.Second)+uint64(ts)-1)/uint64(ts))
}

// finalize moves the pending sample to the segment, ending it at tick.
func (t *track) finalize(tick uint64) {
	d := tick - t.pendingTick
	if d > math.MaxUint32 {
		d = math.MaxUint32
	}
	t.pending.dur = uint32(d)
	t.lastDur = uint32(d)
	if len(t.samples) == 0 {
		t.baseTick = t.pendingTick
	}
	t.samples = append(t.samples, t.pending)
	t.end = t.pendingTick + d
	t.pending = sample{}
	t.hasPending = false
}

// finalizeGuess ends the pending sample with the previous sample's duration.
func (t *track) finalizeGuess() {
	if !t.hasPending {
		return
	}
	d := t.lastDur
	if d == 0 {
		d = t.defaultDuration()
	}
	t.finalize(t.pendingTick + uint64(d))
}

// push makes u the pending sample at tick, finishing the previous one.
func (t *track) push(u *stream.Unit, tick uint64) error {
	var s sample
	if t.video {
		off := int64(toTicks(absDur(u.PTS-u.DTS), t.timescale))
		if u.PTS < u.DTS {
			off = -off
		}
		off = max(min(off, math.MaxInt32), math.MinInt32)
		size, nonSync, err := videoSample(u.AU, t.h265)
		if err != nil {
			return fmt.Errorf("convert access unit: %w", err)
		}
		s = sample{ptsOffset: int32(off), nonSync: nonSync, size: size, au: u.AU}
	} else {
		size := 0
		for _, b := range u.AU {
			size += len(b)
		}
		if size == 0 {
			return fmt.Errorf("empty audio frame")
		}
		s = sample{size: size, au: u.AU}
	}
	if t.hasPending {
		t.finalize(tick)
	}
	t.pending, t.pendingTick, t.hasPending = s, tick, true
	return nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// fragment hands the finished samples to a fragment writer as ft and starts
// a new list; release must be called once ft was written.
func (t *track) fragment() fragTrack {
	return fragTrack{id: t.id, baseTime: t.baseTick, samples: t.samples, video: t.video, h265: t.h265}
}

// release empties the sample list after a fragment was written, keeping its
// array for the next fragment and dropping the references to the units.
func (t *track) release() {
	clear(t.samples)
	t.samples = t.samples[:0]
}

func isAUD(nalu []byte, isH265 bool) bool {
	if len(nalu) == 0 {
		return false
	}
	if isH265 {
		return h265.NALUType((nalu[0]>>1)&0x3f) == h265.NALUType_AUD_NUT
	}
	return h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter
}

// changedParams returns the codec with the parameter sets carried in au when
// they differ from the track's, or nil when they do not (or au has none).
func (t *track) changedParams(au [][]byte) mp4codecs.Codec {
	switch c := t.codec.(type) {
	case *mp4codecs.H264:
		var sps, pps []byte
		for _, n := range au {
			if len(n) == 0 {
				continue
			}
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				sps = n
			case h264.NALUTypePPS:
				pps = n
			}
		}
		if (sps == nil || bytes.Equal(sps, c.SPS)) && (pps == nil || bytes.Equal(pps, c.PPS)) {
			return nil
		}
		nc := &mp4codecs.H264{SPS: c.SPS, PPS: c.PPS}
		if sps != nil {
			nc.SPS = bytes.Clone(sps)
		}
		if pps != nil {
			nc.PPS = bytes.Clone(pps)
		}
		return nc
	case *mp4codecs.H265:
		var vps, sps, pps []byte
		for _, n := range au {
			if len(n) == 0 {
				continue
			}
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				vps = n
			case h265.NALUType_SPS_NUT:
				sps = n
			case h265.NALUType_PPS_NUT:
				pps = n
			}
		}
		if (vps == nil || bytes.Equal(vps, c.VPS)) && (sps == nil || bytes.Equal(sps, c.SPS)) &&
			(pps == nil || bytes.Equal(pps, c.PPS)) {
			return nil
		}
		nc := &mp4codecs.H265{VPS: c.VPS, SPS: c.SPS, PPS: c.PPS}
		if vps != nil {
			nc.VPS = bytes.Clone(vps)
		}
		if sps != nil {
			nc.SPS = bytes.Clone(sps)
		}
		if pps != nil {
			nc.PPS = bytes.Clone(pps)
		}
		return nc
	}
	return nil
}
