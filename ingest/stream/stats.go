package stream

import (
	"bytes"
	"math"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// StageInfo is a snapshot of one stage for the API and the pages.
type StageInfo struct {
	Name     string     `json:"name"`
	Live     bool       `json:"live"`
	Since    *time.Time `json:"since,omitempty"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
	Source   string     `json:"source,omitempty"`
	Remote   string     `json:"-"`
	// Node is the node that ingests the stage (-nats); empty on one node.
	// The registry leaves it empty: cmd fills it from the ingest leases.
	Node   string      `json:"node,omitempty"`
	Tracks []TrackInfo `json:"tracks"`
	// Warnings are the stage's warnings as codes (Warning): web renders
	// them in the reader's language, and adds their English text as
	// "warnings" in the API.
	Warnings []Warning `json:"warning_codes,omitempty"`
	// DroppedUnits counts the units of this publish that slow readers (the
	// HLS muxer) had to drop, summed over readers.
	DroppedUnits int64 `json:"dropped_units"`
	// Renditions lists the stage's publish paths, the source first (named
	// "source"), once a rendition has been published to the stage; empty
	// for a stage that only ever had its source.
	Renditions []RenditionInfo `json:"renditions,omitempty"`
}

// RenditionInfo is one publish path of a stage: its source or a rendition
// an encoder publishes to live/{stage}/{rendition}.
type RenditionInfo struct {
	Name     string     `json:"name"`
	Live     bool       `json:"live"`
	Since    *time.Time `json:"since,omitempty"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
	Source   string     `json:"source,omitempty"`
	// Codec, Width and Height are the video track's (the audio track's codec
	// for an audio-only rendition); Bitrate sums the tracks' measured bitrates.
	Codec    string      `json:"codec,omitempty"`
	Width    int         `json:"width,omitempty"`
	Height   int         `json:"height,omitempty"`
	Bitrate  int64       `json:"bitrate"`
	Tracks   []TrackInfo `json:"tracks"`
	Warnings []Warning   `json:"warning_codes,omitempty"`
}

// info snapshots one publish path. Called with Registry.mu held.
func (p *path) info(now time.Time) RenditionInfo {
	ri := RenditionInfo{Name: RenditionName(p.rendition), Live: p.pub != nil, Tracks: []TrackInfo{}}
	if p.pub != nil {
		since := p.pub.stream.Start.UTC()
		ri.Since = &since
		ri.Source = p.pub.stream.Source
	} else if !p.lastSeen.IsZero() {
		ls := p.lastSeen.UTC()
		ri.LastSeen = &ls
	}
	if p.stats != nil {
		ri.Tracks = p.stats.snapshot(now, p.pub != nil)
	}
	for _, t := range ri.Tracks {
		ri.Bitrate += t.Bitrate
		if t.Kind == "video" && ri.Width == 0 {
			ri.Codec, ri.Width, ri.Height = t.Codec, t.Width, t.Height
		}
	}
	if ri.Codec == "" && len(ri.Tracks) > 0 {
		ri.Codec = ri.Tracks[0].Codec
	}
	for _, w := range p.warnings {
		ri.Warnings = append(ri.Warnings, w)
	}
	sortWarnings(ri.Warnings)
	return ri
}

// TrackInfo describes one track as measured over the last few seconds.
type TrackInfo struct {
	Kind      string  `json:"kind"` // "video" or "audio"
	Codec     string  `json:"codec"`
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	FrameRate float64 `json:"frame_rate,omitempty"` // measured frames per second
	// KeyframeInterval is the last measured distance between keyframes, in seconds.
	KeyframeInterval float64 `json:"keyframe_interval,omitempty"`
	SampleRate       int     `json:"sample_rate,omitempty"`
	Channels         int     `json:"channels,omitempty"`
	Bitrate          int64   `json:"bitrate"` // bits per second
}

// statsWindow is how far back bitrate and frame rate are averaged.
const statsWindow = 5 * time.Second

// stats measures each track of one publish. Guarded by Registry.mu.
type stats struct {
	tracks []*trackStats
}

type trackStats struct {
	static  TrackInfo
	sps     []byte       // the parameter set static's resolution was read from
	samples []statSample // ring of recent units, oldest first
	lastKey time.Duration
	hasKey  bool
	keyInt  time.Duration
}

type statSample struct {
	at   time.Time
	dts  time.Duration // the unit's media time: frame rate is counted in it
	size int
}

func newStats(s *Stream) *stats {
	st := &stats{}
	for _, t := range s.Tracks {
		ts := &trackStats{static: describe(t)}
		switch c := t.Codec.(type) {
		case *mp4codecs.H264:
			ts.sps = c.SPS
		case *mp4codecs.H265:
			ts.sps = c.SPS
		}
		st.tracks = append(st.tracks, ts)
	}
	return st
}

// describe reads what the codec parameters say about a track.
func describe(t *Track) TrackInfo {
	info := TrackInfo{Kind: "audio", Codec: t.CodecName()}
	if t.IsVideo() {
		info.Kind = "video"
	}
	switch c := t.Codec.(type) {
	case *mp4codecs.H264:
		var sps h264.SPS
		if sps.Unmarshal(c.SPS) == nil {
			info.Width, info.Height = sps.Width(), sps.Height()
		}
	case *mp4codecs.H265:
		var sps h265.SPS
		if sps.Unmarshal(c.SPS) == nil {
			info.Width, info.Height = sps.Width(), sps.Height()
		}
	case *mp4codecs.MPEG4Audio:
		info.SampleRate = c.Config.SampleRate
		info.Channels = int(c.Config.ChannelConfig)
		if info.Channels == 7 {
			info.Channels = 8
		}
	case *mp4codecs.Opus:
		info.SampleRate = 48000
		info.Channels = c.ChannelCount
	}
	return info
}

func (s *stats) add(u *Unit, t *Track) {
	if u.Track < 0 || u.Track >= len(s.tracks) {
		return
	}
	ts := s.tracks[u.Track]
	ts.samples = append(ts.samples, statSample{at: u.Received, dts: u.DTS, size: u.Size()})
	// Trim in bulk to keep append amortised.
	if len(ts.samples) > 64 && u.Received.Sub(ts.samples[len(ts.samples)/2].at) > statsWindow {
		ts.samples = append(ts.samples[:0], ts.samples[len(ts.samples)/2:]...)
	}
	if t.IsVideo() && u.RandomAccess {
		ts.inBandSPS(t, u.AU)
		if ts.hasKey && u.DTS > ts.lastKey {
			ts.keyInt = u.DTS - ts.lastKey
		}
		ts.lastKey, ts.hasKey = u.DTS, true
	}
}

// inBandSPS follows a resolution change: a keyframe that carries an SPS
// other than the one last read updates width and height.
func (ts *trackStats) inBandSPS(t *Track, au [][]byte) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch t.Codec.(type) {
		case *mp4codecs.H264:
			if h264.NALUType(n[0]&0x1f) != h264.NALUTypeSPS || bytes.Equal(n, ts.sps) {
				continue
			}
			var sps h264.SPS
			if sps.Unmarshal(n) == nil {
				ts.static.Width, ts.static.Height = sps.Width(), sps.Height()
			}
		case *mp4codecs.H265:
			if h265.NALUType((n[0]>>1)&0x3f) != h265.NALUType_SPS_NUT || bytes.Equal(n, ts.sps) {
				continue
			}
			var sps h265.SPS
			if sps.Unmarshal(n) == nil {
				ts.static.Width, ts.static.Height = sps.Width(), sps.Height()
			}
		default:
			return
		}
		ts.sps = bytes.Clone(n)
	}
}

func (s *stats) snapshot(now time.Time, live bool) []TrackInfo {
	out := make([]TrackInfo, len(s.tracks))
	for i, ts := range s.tracks {
		info := ts.static
		if live {
			var bytes, frames int
			var first time.Time
			var firstDTS, lastDTS time.Duration
			for _, smp := range ts.samples {
				if now.Sub(smp.at) > statsWindow {
					continue
				}
				if first.IsZero() {
					first, firstDTS = smp.at, smp.dts
				}
				lastDTS = smp.dts
				bytes += smp.size
				frames++
			}
			// Bitrate over the window up to now (it falls when the feed
			// stalls); frame rate between the first and last frame seen,
			// in media time: arrival times measure the network and the
			// machine as much as the encoder (a loaded host delivered 30 fps
			// in bursts that counted as 43).
			if span := now.Sub(first).Seconds(); frames > 1 && span > 0.5 {
				info.Bitrate = int64(float64(bytes*8) / span)
			}
			if span := (lastDTS - firstDTS).Seconds(); info.Kind == "video" && frames > 1 && span > 0.5 {
				info.FrameRate = math.Round(float64(frames-1)/span*100) / 100
			}
		}
		if ts.keyInt > 0 {
			info.KeyframeInterval = math.Round(ts.keyInt.Seconds()*1000) / 1000
		}
		out[i] = info
	}
	return out
}
