package hls

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/codecparams"
	hlscodecs "github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/captions"
	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/ingest/stream"
)

// rates keeps the size and duration of a path's latest segments, for
// BANDWIDTH (the peak) and AVERAGE-BANDWIDTH.
type rates struct {
	bits [8]int64
	durs [8]time.Duration
	n    int // segments recorded, all time
}

func (r *rates) add(bytes int, d time.Duration) {
	i := r.n % len(r.bits)
	r.bits[i], r.durs[i] = int64(bytes)*8, d
	r.n++
}

func (r *rates) count() int { return r.n }

// measure returns the peak and the average bit rate of the recorded segments.
func (r *rates) measure() (peak, avg int64) {
	var bits int64
	var dur time.Duration
	for i := range min(r.n, len(r.bits)) {
		if r.durs[i] <= 0 {
			continue
		}
		peak = max(peak, int64(float64(r.bits[i])/r.durs[i].Seconds()))
		bits += r.bits[i]
		dur += r.durs[i]
	}
	if dur > 0 {
		avg = int64(float64(bits) / dur.Seconds())
	}
	return peak, avg
}

// variant describes the path for the multivariant playlist: codecs and
// resolution from its current codec parameters (what its init segment
// holds), bandwidth from its recent segments.
func (st *stage) variant() playlist.Variant {
	v := playlist.Variant{URI: stream.RenditionName(st.rendition) + "/" + PlaylistName}
	peak, avg := st.rates.measure()
	v.Bandwidth, v.AverageBandwidth = int(peak), int(avg)
	if st.run == nil {
		return v
	}
	for _, t := range st.run.tracks {
		if c := codecString(t.codec); c != "" {
			v.Codecs = append(v.Codecs, c)
		}
		if v.Width == 0 {
			v.Width, v.Height, v.FrameRate = videoSize(t.codec)
		}
	}
	return v
}

// DescribeInit fills v's CODECS, RESOLUTION and FRAME-RATE from an fMP4
// init segment (one salon wrote, read back from the bucket).
func DescribeInit(v *playlist.Variant, init []byte) error {
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil {
		return fmt.Errorf("read init segment: %w", err)
	}
	for _, t := range in.Tracks {
		if c := codecString(t.Codec); c != "" {
			v.Codecs = append(v.Codecs, c)
		}
		if v.Width == 0 {
			v.Width, v.Height, v.FrameRate = videoSize(t.Codec)
		}
	}
	return nil
}

// codecString is the RFC 6381 name of a codec for CODECS (avc1.64001f,
// hvc1.1.6.L93.B0, mp4a.40.2, opus).
func codecString(c mp4codecs.Codec) string {
	var hc hlscodecs.Codec
	switch c := c.(type) {
	case *mp4codecs.H264:
		hc = &hlscodecs.H264{SPS: c.SPS, PPS: c.PPS}
	case *mp4codecs.H265:
		hc = &hlscodecs.H265{VPS: c.VPS, SPS: c.SPS, PPS: c.PPS}
	case *mp4codecs.MPEG4Audio:
		hc = &hlscodecs.MPEG4Audio{Config: c.Config}
	case *mp4codecs.Opus:
		hc = &hlscodecs.Opus{ChannelCount: c.ChannelCount}
	default:
		return ""
	}
	return codecparams.Marshal(hc)
}

// videoSize reads width, height and frame rate from a video track's SPS.
func videoSize(c mp4codecs.Codec) (w, h int, fps float64) {
	switch c := c.(type) {
	case *mp4codecs.H264:
		var sps h264.SPS
		if sps.Unmarshal(c.SPS) == nil {
			return sps.Width(), sps.Height(), sps.FPS()
		}
	case *mp4codecs.H265:
		var sps h265.SPS
		if sps.Unmarshal(c.SPS) == nil {
			return sps.Width(), sps.Height(), sps.FPS()
		}
	}
	return 0, 0, 0
}

// RenderMultivariant writes the multivariant playlist over vs, in order:
// players start with the first variant (the source) unless their own
// bandwidth estimate says otherwise.
func RenderMultivariant(vs []playlist.Variant) ([]byte, error) {
	return RenderMultivariantSubs(vs, nil)
}

// SubtitleGroup is the GROUP-ID of the caption renditions.
const SubtitleGroup = "subs"

// Subtitles lists caption tracks as SUBTITLES renditions of SubtitleGroup,
// named in their own language; uri gives a language's subtitle playlist.
func Subtitles(langs []string, uri func(lang string) string) []playlist.Rendition {
	out := make([]playlist.Rendition, 0, len(langs))
	for _, l := range langs {
		out = append(out, playlist.Rendition{Type: playlist.MediaSubtitles, GroupID: SubtitleGroup,
			Name: captions.LangName(l), Language: l, URI: uri(l), AutoSelect: true})
	}
	return out
}

// RenderMultivariantSubs is RenderMultivariant with subtitle renditions
// (Subtitles): every variant then names their group.
func RenderMultivariantSubs(vs []playlist.Variant, subs []playlist.Rendition) ([]byte, error) {
	for _, v := range vs {
		if v.Bandwidth <= 0 {
			return nil, fmt.Errorf("variant %s has no measured bandwidth yet", v.URI)
		}
	}
	if len(subs) > 0 {
		vs = slices.Clone(vs)
		for i := range vs {
			vs[i].Subtitles = SubtitleGroup
		}
	}
	mv := playlist.Multivariant{Version: 7, IndependentSegments: true, Media: subs, Variants: vs}
	return mv.Marshal()
}
