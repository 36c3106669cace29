package hls

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// sample is one finished sample waiting to be written into a fragment. It
// keeps the access unit's byte slices as ingest handed them (units are
// immutable once published): the fragment writer copies them once, straight
// into the segment's buffer, with the AVCC length prefixes for video. This
// replaces mediacommon's path (AVCC copy, then the mdat copy, then the buffer
// copy, each a fresh allocation).
type sample struct {
	dur       uint32
	ptsOffset int32
	nonSync   bool
	// size is the sample's length in the mdat: for video the NALUs without
	// access unit delimiters, each behind a 4-byte length; for audio the
	// frames concatenated.
	size int
	au   [][]byte
}

// Bits of the boxes written by appendFragment, as ISO/IEC 14496-12 defines
// them and mediacommon's fmp4.Part.Marshal writes them.
const (
	tfhdDefaultBaseIsMoof = 0x020000
	trunDataOffset        = 0x001
	trunSampleDuration    = 0x100
	trunSampleSize        = 0x200
	trunSampleFlags       = 0x400
	trunSampleCTO         = 0x800
	sampleIsNonSync       = 1 << 16
)

// fragTrack is one track's samples in a fragment, starting at baseTime ticks.
type fragTrack struct {
	id       int
	baseTime uint64
	samples  []sample
	// video tells how to write the samples' access units (AVCC); h265 picks
	// the NALU header layout for dropping access unit delimiters.
	video, h265 bool
}

// errFragmentTooLarge is returned for a fragment whose mdat does not fit in
// 32-bit box sizes (4 GiB), which no live segment comes near.
var errFragmentTooLarge = errors.New("fragment larger than 4 GiB")

// appendFragment appends one moof+mdat holding tracks to buf and returns it.
// The bytes are those of fmp4.Part{SequenceNumber: seq, Tracks: …}.Marshal.
func appendFragment(buf []byte, seq uint32, tracks []fragTrack) ([]byte, error) {
	moofSize := 8 + 16 // moof header, mfhd
	dataSize := 0
	for i := range tracks {
		moofSize += 8 + 16 + 20 + trunSize(&tracks[i]) // traf, tfhd, tfdt v1, trun
		for _, s := range tracks[i].samples {
			dataSize += s.size
		}
	}
	if uint64(moofSize)+8+uint64(dataSize) > math.MaxUint32 {
		return buf, errFragmentTooLarge
	}
	start := len(buf)
	buf = growBytes(buf, moofSize+8+dataSize)

	buf = appendBoxHeader(buf, moofSize, "moof")
	buf = appendBoxHeader(buf, 16, "mfhd")
	buf = binary.BigEndian.AppendUint32(buf, 0) // version, flags
	buf = binary.BigEndian.AppendUint32(buf, seq)
	dataOff := moofSize + 8 // from the moof's start to the mdat's payload
	for i := range tracks {
		tr := &tracks[i]
		ts := trunSize(tr)
		buf = appendBoxHeader(buf, 8+16+20+ts, "traf")
		buf = appendBoxHeader(buf, 16, "tfhd")
		buf = binary.BigEndian.AppendUint32(buf, tfhdDefaultBaseIsMoof)
		buf = binary.BigEndian.AppendUint32(buf, uint32(tr.id))
		buf = appendBoxHeader(buf, 20, "tfdt")
		buf = binary.BigEndian.AppendUint32(buf, 1<<24) // version 1
		buf = binary.BigEndian.AppendUint64(buf, tr.baseTime)

		flags := trunFlags(tr)
		buf = appendBoxHeader(buf, ts, "trun")
		buf = binary.BigEndian.AppendUint32(buf, 1<<24|uint32(flags)) // version 1
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(tr.samples)))
		buf = binary.BigEndian.AppendUint32(buf, uint32(dataOff))
		for _, s := range tr.samples {
			buf = binary.BigEndian.AppendUint32(buf, s.dur)
			buf = binary.BigEndian.AppendUint32(buf, uint32(s.size))
			if flags&trunSampleFlags != 0 {
				var f uint32
				if s.nonSync {
					f = sampleIsNonSync
				}
				buf = binary.BigEndian.AppendUint32(buf, f)
			}
			if flags&trunSampleCTO != 0 {
				buf = binary.BigEndian.AppendUint32(buf, uint32(s.ptsOffset))
			}
			dataOff += s.size
		}
	}
	buf = appendBoxHeader(buf, 8+dataSize, "mdat")
	for i := range tracks {
		tr := &tracks[i]
		for _, s := range tr.samples {
			if !tr.video {
				for _, b := range s.au {
					buf = append(buf, b...)
				}
				continue
			}
			for _, n := range s.au {
				if len(n) == 0 || isAUD(n, tr.h265) {
					continue
				}
				buf = binary.BigEndian.AppendUint32(buf, uint32(len(n)))
				buf = append(buf, n...)
			}
		}
	}
	if len(buf)-start != moofSize+8+dataSize {
		// A sample's size disagrees with its access unit: a bug, not input.
		return buf[:start], errors.New("fragment size mismatch")
	}
	return buf, nil
}

func trunFlags(tr *fragTrack) int {
	flags := trunDataOffset | trunSampleDuration | trunSampleSize
	for _, s := range tr.samples {
		if s.nonSync {
			flags |= trunSampleFlags
		}
		if s.ptsOffset != 0 {
			flags |= trunSampleCTO
		}
	}
	return flags
}

func trunSize(tr *fragTrack) int {
	per := 8
	f := trunFlags(tr)
	if f&trunSampleFlags != 0 {
		per += 4
	}
	if f&trunSampleCTO != 0 {
		per += 4
	}
	return 12 + 4 + 4 + per*len(tr.samples)
}

func appendBoxHeader(buf []byte, size int, typ string) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(size))
	return append(buf, typ...)
}

// growBytes makes room for n more bytes without copying when buf has it.
func growBytes(buf []byte, n int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	nb := make([]byte, len(buf), max(2*cap(buf), len(buf)+n))
	copy(nb, buf)
	return nb
}

// videoSample describes a video access unit as a sample: its mdat size
// without access unit delimiters and whether it is a sync sample.
func videoSample(au [][]byte, isH265 bool) (size int, nonSync bool, err error) {
	n := 0
	for _, nalu := range au {
		if len(nalu) == 0 || isAUD(nalu, isH265) {
			continue
		}
		n++
		size += 4 + len(nalu)
	}
	if n == 0 {
		return 0, false, errors.New("access unit has no NALU")
	}
	if isH265 {
		return size, !h265.IsRandomAccess(au), nil
	}
	return size, !h264.IsRandomAccess(au), nil
}
