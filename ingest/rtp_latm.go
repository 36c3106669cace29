package ingest

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// AAC over RTP as LATM (MP4A-LATM) carries its StreamMuxConfig in the SDP's
// config=. When the AudioSpecificConfig inside it ends with the
// backward-compatible SBR signalling (sync extension 0x2b7, as GStreamer's
// avenc_aac writes: 120856e500), mediacommon v2.9.4 stops reading the
// AudioSpecificConfig before the extension and takes its bits for the
// StreamMuxConfig's next fields: frameLengthType comes out as 2, and every
// packet then fails with "unsupported frameLengthType 2" (issue 13,
// finding 14). ffmpeg reads the same RTP. The fix belongs upstream in
// mediacommon; salon cannot publish a fork, so it re-reads such a config
// here, leniently, without the extension (decoders find SBR in the stream
// by themselves, as the extension is backward compatible).

// syncExtensionType starts the backward-compatible extension of an
// AudioSpecificConfig (ISO 14496-3, 1.6.2.1); psSyncExtensionType follows it
// for parametric stereo.
const (
	syncExtensionType   = 0x2b7
	psSyncExtensionType = 0x548
)

// repairLATM re-reads the LATM configs of desc that carry the SBR sync
// extension, from the raw session description sdp. It returns how many it
// repaired.
func repairLATM(desc *description.Session, sdp []byte) int {
	if desc == nil || len(sdp) == 0 {
		return 0
	}
	sections := fmtpBySection(sdp)
	n := 0
	for i, m := range desc.Medias {
		if i >= len(sections) {
			break
		}
		for _, f := range m.Formats {
			latm, ok := f.(*format.MPEG4AudioLATM)
			if !ok || latm.CPresent {
				continue
			}
			cfg, ok := fmtpParam(sections[i][latm.PayloadTyp], "config")
			if !ok {
				continue
			}
			raw, err := hex.DecodeString(cfg)
			if err != nil {
				continue
			}
			if smc, ok := latmConfig(raw); ok {
				latm.StreamMuxConfig = smc
				n++
			}
		}
	}
	return n
}

// fmtpBySection reads the a=fmtp lines of each media section of an SDP, in
// order: payload type → parameters.
func fmtpBySection(sdp []byte) []map[uint8]string {
	var out []map[uint8]string
	for _, line := range bytes.Split(sdp, []byte("\n")) {
		l := strings.TrimSpace(string(line))
		switch {
		case strings.HasPrefix(l, "m="):
			out = append(out, map[uint8]string{})
		case strings.HasPrefix(l, "a=fmtp:") && len(out) > 0:
			pt, params, ok := strings.Cut(strings.TrimPrefix(l, "a=fmtp:"), " ")
			if !ok {
				continue
			}
			v, err := strconv.ParseUint(pt, 10, 8)
			if err != nil {
				continue
			}
			out[len(out)-1][uint8(v)] = params
		}
	}
	return out
}

// fmtpParam finds key in "k1=v1; k2=v2" (keys are case-insensitive).
func fmtpParam(params, key string) (string, bool) {
	for _, kv := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && strings.EqualFold(k, key) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// latmConfig reads a StreamMuxConfig (audioMuxVersion 0, one program, one
// layer) whose AudioSpecificConfig ends with a sync extension, and returns
// it without the extension. ok is false for every other config: those are
// left to mediacommon.
func latmConfig(raw []byte) (*mpeg4audio.StreamMuxConfig, bool) {
	pos := 0
	if bits.HasSpace(raw, pos, 15) != nil {
		return nil, false
	}
	audioMuxVersion := bits.ReadFlagUnsafe(raw, &pos)
	allStreamsSameTimeFraming := bits.ReadFlagUnsafe(raw, &pos)
	numSubFrames := bits.ReadBitsUnsafe(raw, &pos, 6)
	numProgram := bits.ReadBitsUnsafe(raw, &pos, 4)
	numLayer := bits.ReadBitsUnsafe(raw, &pos, 3)
	if audioMuxVersion || !allStreamsSameTimeFraming || numProgram != 0 || numLayer != 0 {
		return nil, false
	}
	var asc mpeg4audio.AudioSpecificConfig
	if err := asc.UnmarshalFromPos(raw, &pos); err != nil { //nolint:staticcheck // the only way to learn where it ends
		return nil, false
	}
	if asc.SampleRate <= 0 || asc.ExtensionType != 0 {
		return nil, false
	}
	sync, err := bits.ReadBits(raw, &pos, 11)
	if err != nil || sync != syncExtensionType {
		return nil, false
	}
	ext, err := bits.ReadBits(raw, &pos, 5)
	if err != nil || mpeg4audio.ObjectType(ext) != mpeg4audio.ObjectTypeSBR {
		return nil, false
	}
	sbr, err := bits.ReadFlag(raw, &pos)
	if err != nil {
		return nil, false
	}
	if sbr {
		idx, err := bits.ReadBits(raw, &pos, 4)
		if err != nil {
			return nil, false
		}
		if idx == 0x0f {
			if _, err := bits.ReadBits(raw, &pos, 24); err != nil {
				return nil, false
			}
		}
		if p := pos; bits.HasSpace(raw, p, 12) == nil && bits.ReadBitsUnsafe(raw, &p, 11) == psSyncExtensionType {
			pos = p + 1 // psPresentFlag
		}
	}
	// What follows the AudioSpecificConfig: frameLengthType 0 (payloads
	// with length prefixes) is the only kind salon reads; a config cut
	// short after the AudioSpecificConfig means the same.
	if flt, err := bits.ReadBits(raw, &pos, 3); err == nil && flt != 0 {
		return nil, false
	}
	if _, err := bits.ReadBits(raw, &pos, 8); err == nil { // latmBufferFullness
		if other, err := bits.ReadFlag(raw, &pos); err == nil && other {
			return nil, false // otherDataPresent: not produced by the encoders we know
		}
	}
	return &mpeg4audio.StreamMuxConfig{
		NumSubFrames: uint(numSubFrames),
		Programs: []*mpeg4audio.StreamMuxConfigProgram{{
			Layers: []*mpeg4audio.StreamMuxConfigLayer{{
				AudioSpecificConfig: &asc,
				FrameLengthType:     0,
				LatmBufferFullness:  255,
			}},
		}},
	}, true
}
