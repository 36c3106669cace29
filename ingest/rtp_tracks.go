package ingest

import (
	"errors"
	"strconv"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpfragmented"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/pion/rtp"
)

// rtpTrack is one RTSP media/format that salon keeps, with its RTP decoder.
type rtpTrack struct {
	media  *description.Media
	format format.Format
	index  int // track index in the publication
	// decode turns one RTP packet, whose PTS (in clock ticks) is pts, into
	// units written to p. It runs under the session's packet callback.
	decode rtpDecodeFunc
}

// rtpDecodeFunc turns one RTP packet, whose PTS in clock ticks is pts, into
// units of track written to p; errSkip means the unit is not complete yet.
type rtpDecodeFunc func(p *publication, track int, pkt *rtp.Packet, pts int64, received time.Time) error

// rtpTracks picks the tracks of an RTSP session description and prepares
// their decoders. The codecs are in track order; video codecs may lack
// parameter sets (the publication then waits for in-band ones). sdp is the
// description as received, for what gortsplib parses too strictly
// (rtp_latm.go).
func rtpTracks(desc *description.Session, sdp []byte) ([]*rtpTrack, *trackPicker) {
	repairLATM(desc, sdp)
	var tp trackPicker
	var out []*rtpTrack
	for _, m := range desc.Medias {
		var chosen *rtpTrack
		var codec mp4codecs.Codec
		for _, f := range m.Formats {
			c, dec := rtpFormat(f)
			if c != nil {
				chosen = &rtpTrack{media: m, format: f, decode: dec}
				codec = c
				break
			}
		}
		if chosen == nil {
			name := string(m.Type)
			if len(m.Formats) > 0 {
				name = rtpCodecName(m.Formats[0])
			}
			tp.add(nil, name)
			continue
		}
		i := tp.add(codec, rtpCodecName(chosen.format))
		if i < 0 {
			continue
		}
		chosen.index = i
		out = append(out, chosen)
	}
	return out, &tp
}

// rtpCodecName names the codec of an RTP format for people.
func rtpCodecName(f format.Format) string {
	switch f := f.(type) {
	case *format.MJPEG:
		return "MJPEG"
	case *format.MPEG4AudioLATM:
		if f.CPresent {
			return "AAC (LATM with in-band configuration)"
		}
		return "AAC"
	case *format.MPEG4Audio:
		return "AAC"
	case *format.H264:
		return "H.264"
	case *format.H265:
		return "H.265"
	case *format.Generic:
		if rm := f.RTPMap(); rm != "" {
			return rm
		}
		return "payload type " + strconv.Itoa(int(f.PayloadType()))
	}
	return f.Codec()
}

// errSkip marks a packet that did not complete a unit; it is not a failure.
var errSkip = errors.New("more packets needed")

// rtpFormat maps a supported RTP format to its fMP4 codec and a decoder;
// it returns nil for formats salon does not accept.
func rtpFormat(f format.Format) (mp4codecs.Codec, rtpDecodeFunc) {
	switch f := f.(type) {
	case *format.H264:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, nil
		}
		sps, pps := f.SafeParams()
		codec := &mp4codecs.H264{SPS: clone(sps), PPS: clone(pps)}
		clock := f.ClockRate()
		return codec, func(p *publication, track int, pkt *rtp.Packet, pts int64, rcv time.Time) error {
			au, err := dec.Decode(pkt)
			if err != nil {
				if errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
					return errSkip
				}
				return err
			}
			p.writeVideoTicks(track, au, pts, clock, rcv)
			return nil
		}

	case *format.H265:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, nil
		}
		vps, sps, pps := f.SafeParams()
		codec := &mp4codecs.H265{VPS: clone(vps), SPS: clone(sps), PPS: clone(pps)}
		clock := f.ClockRate()
		return codec, func(p *publication, track int, pkt *rtp.Packet, pts int64, rcv time.Time) error {
			au, err := dec.Decode(pkt)
			if err != nil {
				if errors.Is(err, rtph265.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious) {
					return errSkip
				}
				return err
			}
			p.writeVideoTicks(track, au, pts, clock, rcv)
			return nil
		}

	case *format.MPEG4Audio:
		if f.Config == nil || f.Config.SampleRate <= 0 {
			return nil, nil
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, nil
		}
		codec := &mp4codecs.MPEG4Audio{Config: *f.Config}
		clock := f.ClockRate()
		step := int64(mpeg4audio.SamplesPerAccessUnit) * int64(clock) / int64(f.Config.SampleRate)
		return codec, func(p *publication, track int, pkt *rtp.Packet, pts int64, rcv time.Time) error {
			aus, err := dec.Decode(pkt)
			if err != nil {
				if errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
					return errSkip
				}
				return err
			}
			if len(aus) == 0 {
				return errSkip
			}
			p.writeAudio(track, aus, pts, step, clock, rcv)
			return nil
		}

	case *format.MPEG4AudioLATM:
		if f.CPresent || f.StreamMuxConfig == nil || len(f.StreamMuxConfig.Programs) == 0 ||
			len(f.StreamMuxConfig.Programs[0].Layers) == 0 || f.StreamMuxConfig.Programs[0].Layers[0].AudioSpecificConfig == nil {
			return nil, nil
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, nil
		}
		asc := f.StreamMuxConfig.Programs[0].Layers[0].AudioSpecificConfig
		if asc.SampleRate <= 0 {
			return nil, nil
		}
		codec := &mp4codecs.MPEG4Audio{Config: *asc}
		clock := f.ClockRate()
		step := int64(mpeg4audio.SamplesPerAccessUnit) * int64(clock) / int64(asc.SampleRate)
		smc := f.StreamMuxConfig
		return codec, func(p *publication, track int, pkt *rtp.Packet, pts int64, rcv time.Time) error {
			el, err := dec.Decode(pkt)
			if err != nil {
				if errors.Is(err, rtpfragmented.ErrMorePacketsNeeded) {
					return errSkip
				}
				return err
			}
			ame := mpeg4audio.AudioMuxElement{MuxConfigPresent: false, StreamMuxConfig: smc}
			if err := ame.Unmarshal(el); err != nil {
				return err
			}
			var aus [][]byte
			for _, sub := range ame.Payloads {
				if len(sub) > 0 && len(sub[0]) > 0 {
					aus = append(aus, sub[0][0])
				}
			}
			p.writeAudio(track, aus, pts, step, clock, rcv)
			return nil
		}

	case *format.Opus:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, nil
		}
		channels := f.ChannelCount
		if channels <= 0 {
			channels = 2
		}
		codec := &mp4codecs.Opus{ChannelCount: channels}
		clock := f.ClockRate()
		return codec, func(p *publication, track int, pkt *rtp.Packet, pts int64, rcv time.Time) error {
			frame, err := dec.Decode(pkt)
			if err != nil {
				return err
			}
			p.writeAudio(track, [][]byte{frame}, pts, 0, clock, rcv)
			return nil
		}
	}
	return nil, nil
}

// rtpSource is what both a gortsplib server session and client offer.
type rtpSource interface {
	OnPacketRTP(*description.Media, format.Format, gortsplib.OnPacketRTPFunc)
	PacketPTS2(*description.Media, *rtp.Packet) (int64, bool)
}

// attachRTP feeds the packets of tracks from src into p. gortsplib may call
// the callbacks of different medias from different goroutines; publication
// serialises the writes, and each decoder is used by one media's callback.
func attachRTP(src rtpSource, tracks []*rtpTrack, p *publication, errs *logLimiter) {
	for _, t := range tracks {
		src.OnPacketRTP(t.media, t.format, func(pkt *rtp.Packet) {
			rcv := time.Now()
			pts, ok := src.PacketPTS2(t.media, pkt)
			if !ok {
				return
			}
			err := t.decode(p, t.index, pkt, pts, rcv)
			if err != nil && !errors.Is(err, errSkip) {
				errs.log("cannot decode RTP packet", "codec", rtpCodecName(t.format), "error", err.Error())
			}
		})
	}
}
