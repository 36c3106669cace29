package transcode

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/salon/salon/ingest/stream"
)

// tsOffset is added to every timestamp written to ffmpeg: MPEG-TS has no
// negative times, and the clock reference runs 100 ms ahead of the first
// decode time (a B-frame stream's first DTS is below 0).
const tsOffset = 10 * time.Second

// tsFeed writes the units of one publish as MPEG-TS for one ffmpeg run,
// timestamps kept (plus tsOffset, on the 90 kHz clock). It starts at a video
// keyframe and starts over at the next one after units were dropped, so
// ffmpeg never gets a frame it cannot decode. It puts the latest parameter
// sets in front of every keyframe that lacks them (RTMP publishers send them
// once). Used by one goroutine: the stage's reader.
type tsFeed struct {
	bw     *bufio.Writer
	w      *mpegts.Writer
	tracks []*mpegts.Track // by source track index; nil: not fed
	video  int             // source index of the video track
	codec  mp4codecs.Codec // the video codec
	params [][]byte        // latest VPS/SPS/PPS seen
	synced bool            // a keyframe was written since the start or the last drop
}

// errNoVideo says a publish has nothing to transcode.
var errNoVideo = errors.New("the publish has no H.264 or H.265 video track")

func newTSFeed(w io.Writer, s *stream.Stream) (*tsFeed, error) {
	f := &tsFeed{bw: bufio.NewWriterSize(w, 64<<10), video: -1, tracks: make([]*mpegts.Track, len(s.Tracks))}
	var tracks []*mpegts.Track
	for i, t := range s.Tracks {
		var c tscodecs.Codec
		switch c0 := t.Codec.(type) {
		case *mp4codecs.H264:
			if f.video >= 0 {
				continue
			}
			c, f.video, f.codec = &tscodecs.H264{}, i, c0
			f.params = nonEmpty(c0.SPS, c0.PPS)
		case *mp4codecs.H265:
			if f.video >= 0 {
				continue
			}
			c, f.video, f.codec = &tscodecs.H265{}, i, c0
			f.params = nonEmpty(c0.VPS, c0.SPS, c0.PPS)
		case *mp4codecs.MPEG4Audio:
			c = &tscodecs.MPEG4Audio{Config: c0.Config}
		case *mp4codecs.Opus:
			c = &tscodecs.Opus{ChannelCount: c0.ChannelCount} //nolint:staticcheck // the descriptor is built from it
		default:
			continue
		}
		if !t.IsVideo() && hasAudio(tracks) {
			continue // one audio track is enough: ffmpeg maps the first
		}
		tr := &mpegts.Track{Codec: c}
		f.tracks[i] = tr
		tracks = append(tracks, tr)
	}
	if f.video < 0 {
		return nil, errNoVideo
	}
	f.w = &mpegts.Writer{W: f.bw, Tracks: tracks}
	if err := f.w.Initialize(); err != nil {
		return nil, fmt.Errorf("mpeg-ts writer: %w", err)
	}
	return f, nil
}

func hasAudio(ts []*mpegts.Track) bool {
	for _, t := range ts {
		if !t.Codec.IsVideo() {
			return true
		}
	}
	return false
}

// resync makes the feed wait for the next keyframe (units were dropped).
func (f *tsFeed) resync() { f.synced = false }

// write writes one unit; it reports whether the unit was written (false
// while waiting for a keyframe or for a track that is not fed).
func (f *tsFeed) write(u *stream.Unit) (bool, error) {
	if u.Track < 0 || u.Track >= len(f.tracks) || f.tracks[u.Track] == nil || len(u.AU) == 0 {
		return false, nil
	}
	tr := f.tracks[u.Track]
	pts, dts := ticks90k(u.PTS), ticks90k(u.DTS)
	var err error
	if u.Track == f.video {
		au := f.withParams(u.AU, u.RandomAccess)
		if !f.synced {
			if !u.RandomAccess {
				return false, nil
			}
			f.synced = true
		}
		switch f.codec.(type) {
		case *mp4codecs.H264:
			err = f.w.WriteH264(tr, pts, dts, au)
		case *mp4codecs.H265:
			err = f.w.WriteH265(tr, pts, dts, au)
		}
	} else {
		if !f.synced {
			return false, nil // audio joins with the first keyframe
		}
		switch tr.Codec.(type) {
		case *tscodecs.MPEG4Audio:
			err = f.w.WriteMPEG4Audio(tr, pts, u.AU[:1])
		case *tscodecs.Opus:
			err = f.w.WriteOpus(tr, pts, u.AU[:1])
		}
	}
	if err == nil {
		err = f.bw.Flush()
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// withParams remembers in-band parameter sets and, on a keyframe without
// them, returns the AU with the latest ones in front.
func (f *tsFeed) withParams(au [][]byte, key bool) [][]byte {
	var got [3][]byte // VPS, SPS, PPS
	has := false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch f.codec.(type) {
		case *mp4codecs.H264:
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				got[1], has = n, true
			case h264.NALUTypePPS:
				got[2], has = n, true
			}
		case *mp4codecs.H265:
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				got[0], has = n, true
			case h265.NALUType_SPS_NUT:
				got[1], has = n, true
			case h265.NALUType_PPS_NUT:
				got[2], has = n, true
			}
		}
	}
	if has {
		f.params = nonEmpty(got[0], got[1], got[2])
		return au
	}
	if !key || len(f.params) == 0 {
		return au
	}
	out := make([][]byte, 0, len(f.params)+len(au))
	return append(append(out, f.params...), au...)
}

// ticks90k converts a stream timestamp to the 90 kHz clock of MPEG-TS,
// offset and wrapped to 33 bits as the format does (after 26.5 hours).
func ticks90k(d time.Duration) int64 {
	d += tsOffset
	// Rounded, not truncated: a 90 kHz source's times come back exactly.
	return (int64(d/time.Second)*90000 + (int64(d%time.Second)*90000+int64(time.Second)/2)/int64(time.Second)) & (1<<33 - 1)
}

func nonEmpty(bs ...[]byte) [][]byte {
	var out [][]byte
	for _, b := range bs {
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	return out
}
