package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	amp4 "github.com/abema/go-mp4"
)

// MP4Joiner turns the stored segments of a cut (one init segment, then media
// segments in order) into one fragmented MP4 file that starts at 0 and says
// how long it lasts.
//
// Stored segments keep the stage's decode timeline: a talk that starts an
// hour into a run has fragments stamped an hour in, and players then show a
// file that starts at 3600 s and no length (issue 13, finding 16). The joiner
// moves every fragment's decode time (tfdt) back by the start of the first
// fragment, the same instant for every track so that sound stays in sync,
// and gives the init segment a movie extends header (mehd) with the total
// duration. Samples and their offsets are untouched.
//
// A joiner is used by one goroutine.
type MP4Joiner struct {
	// Init is the stored init segment the media segments need.
	Init []byte
	// Duration is the file's length, written into the header.
	Duration time.Duration

	timescales map[uint32]uint32 // track ID → timescale
	// origin is where the file's time 0 lies on the stored timeline:
	// originTick ticks of a originScale Hz clock. Set by the first fragment.
	originTick  uint64
	originScale uint32
	started     bool
}

// Initialize reads the init segment's tracks.
func (j *MP4Joiner) Initialize() error {
	boxes, err := amp4.ExtractBoxesWithPayload(bytes.NewReader(j.Init), nil, []amp4.BoxPath{
		{amp4.BoxTypeMoov(), amp4.BoxTypeTrak(), amp4.BoxTypeTkhd()},
		{amp4.BoxTypeMoov(), amp4.BoxTypeTrak(), amp4.BoxTypeMdia(), amp4.BoxTypeMdhd()},
	})
	if err != nil {
		return fmt.Errorf("read the init segment: %w", err)
	}
	j.timescales = map[uint32]uint32{}
	var id uint32
	for _, b := range boxes {
		switch p := b.Payload.(type) {
		case *amp4.Tkhd:
			id = p.TrackID
		case *amp4.Mdhd:
			if id == 0 || p.Timescale == 0 {
				return errors.New("read the init segment: a track without ID or timescale")
			}
			j.timescales[id] = p.Timescale
		}
	}
	if len(j.timescales) == 0 {
		return errors.New("read the init segment: no track")
	}
	return nil
}

// Header returns the init segment with a movie extends header (mehd) that
// holds Duration. Players (VLC among them) read the length of a fragmented
// file there.
func (j *MP4Joiner) Header() ([]byte, error) {
	r := bytes.NewReader(j.Init)
	mvhd, err := amp4.ExtractBoxWithPayload(r, nil, amp4.BoxPath{amp4.BoxTypeMoov(), amp4.BoxTypeMvhd()})
	if err != nil || len(mvhd) != 1 {
		return nil, fmt.Errorf("read the init segment's movie header: %v", err)
	}
	scale := mvhd[0].Payload.(*amp4.Mvhd).Timescale
	if scale == 0 {
		return nil, errors.New("the init segment's movie header has no timescale")
	}
	found, err := amp4.ExtractBoxes(r, nil, []amp4.BoxPath{
		{amp4.BoxTypeMoov()},
		{amp4.BoxTypeMoov(), amp4.BoxTypeMvex()},
		{amp4.BoxTypeMoov(), amp4.BoxTypeMvex(), amp4.BoxTypeMehd()},
	})
	if err != nil {
		return nil, fmt.Errorf("read the init segment: %w", err)
	}
	var moov, mvex *amp4.BoxInfo
	for _, bi := range found {
		switch bi.Type {
		case amp4.BoxTypeMoov():
			moov = bi
		case amp4.BoxTypeMvex():
			mvex = bi
		case amp4.BoxTypeMehd():
			return j.Init, nil // already there: keep it
		}
	}
	if moov == nil || mvex == nil || moov.ExtendToEOF || mvex.ExtendToEOF {
		return nil, errors.New("the init segment has no movie extends box: it is not a fragmented MP4 header")
	}
	dur := uint64(j.Duration.Seconds()*float64(scale) + 0.5)
	mehd := make([]byte, 20)
	binary.BigEndian.PutUint32(mehd[0:], 20)
	copy(mehd[4:], "mehd")
	mehd[8] = 1 // version 1: 64-bit fragment_duration; flags 0
	binary.BigEndian.PutUint64(mehd[12:], dur)

	at := mvex.Offset + mvex.HeaderSize
	out := make([]byte, 0, len(j.Init)+len(mehd))
	out = append(out, j.Init[:at]...)
	out = append(out, mehd...)
	out = append(out, j.Init[at:]...)
	for _, bi := range []*amp4.BoxInfo{moov, mvex} {
		if err := growBox(out, bi, uint64(len(mehd))); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// growBox adds n to the size field of the box bi describes, in place.
func growBox(b []byte, bi *amp4.BoxInfo, n uint64) error {
	switch bi.HeaderSize {
	case amp4.SmallHeaderSize:
		size := bi.Size + n
		if size > math.MaxUint32 {
			return errors.New("the init segment is too large")
		}
		binary.BigEndian.PutUint32(b[bi.Offset:], uint32(size))
	case amp4.LargeHeaderSize:
		binary.BigEndian.PutUint64(b[bi.Offset+8:], bi.Size+n)
	default:
		return fmt.Errorf("unexpected %s header size %d", bi.Type, bi.HeaderSize)
	}
	return nil
}

// Fragment rebases one stored media segment in place: every track fragment's
// decode time moves back by the file's origin, which the first segment sets.
// A segment index (sidx, which ffmpeg writes and salon does not) moves too.
func (j *MP4Joiner) Fragment(seg []byte) error {
	boxes, err := amp4.ExtractBoxesWithPayload(bytes.NewReader(seg), nil, []amp4.BoxPath{
		{amp4.BoxTypeSidx()},
		{amp4.BoxTypeMoof(), amp4.BoxTypeTraf(), amp4.BoxTypeTfhd()},
		{amp4.BoxTypeMoof(), amp4.BoxTypeTraf(), amp4.BoxTypeTfdt()},
	})
	if err != nil {
		return fmt.Errorf("read media segment: %w", err)
	}
	type tfdtAt struct {
		track uint32
		scale uint32
		tick  uint64
		info  amp4.BoxInfo
		v1    bool
	}
	var times, indexes []tfdtAt
	var track uint32
	for _, b := range boxes {
		switch p := b.Payload.(type) {
		case *amp4.Sidx:
			if p.Timescale == 0 {
				return errors.New("read media segment: a segment index without timescale")
			}
			indexes = append(indexes, tfdtAt{scale: p.Timescale, tick: p.GetEarliestPresentationTime(), info: b.Info, v1: p.GetVersion() != 0})
		case *amp4.Tfhd:
			track = p.TrackID
		case *amp4.Tfdt:
			scale, ok := j.timescales[track]
			if !ok {
				return fmt.Errorf("read media segment: track %d is not in the init segment", track)
			}
			times = append(times, tfdtAt{track: track, scale: scale, tick: p.GetBaseMediaDecodeTime(), info: b.Info, v1: p.GetVersion() == 1})
		}
	}
	if len(times) == 0 {
		return errors.New("read media segment: no track fragment with a decode time")
	}
	if !j.started {
		// The earliest track's start is the file's 0.
		j.originTick, j.originScale = times[0].tick, times[0].scale
		for _, t := range times[1:] {
			if earlier(t.tick, t.scale, j.originTick, j.originScale) {
				j.originTick, j.originScale = t.tick, t.scale
			}
		}
		j.started = true
	}
	for _, t := range indexes {
		// earliest_presentation_time follows reference_ID and timescale.
		j.rebase(seg, t.tick, t.scale, t.info.Offset+t.info.HeaderSize+4+8, t.v1)
	}
	for _, t := range times {
		j.rebase(seg, t.tick, t.scale, t.info.Offset+t.info.HeaderSize+4, t.v1) // after version and flags
	}
	return nil
}

// Origin is where the file's time 0 lies on the stored timeline, in
// seconds: the earliest track's decode time in the first fragment given to
// Fragment (ok false before).
func (j *MP4Joiner) Origin() (time.Duration, bool) {
	if !j.started || j.originScale == 0 {
		return 0, false
	}
	sec := j.originTick / uint64(j.originScale)
	frac := j.originTick % uint64(j.originScale)
	return time.Duration(sec)*time.Second + time.Duration(frac*uint64(time.Second)/uint64(j.originScale)), true
}

// rebase writes tick, of a scale Hz clock, moved back by the origin, at
// seg[at:] as a 64-bit (v1) or 32-bit field.
func (j *MP4Joiner) rebase(seg []byte, tick uint64, scale uint32, at uint64, v1 bool) {
	shift := rescale(j.originTick, j.originScale, scale)
	if tick > shift {
		tick -= shift
	} else {
		tick = 0
	}
	if v1 {
		binary.BigEndian.PutUint64(seg[at:], tick)
	} else {
		binary.BigEndian.PutUint32(seg[at:], uint32(tick)) // smaller than before: fits
	}
}

// earlier tells whether a/as seconds comes before b/bs seconds.
func earlier(a uint64, as uint32, b uint64, bs uint32) bool {
	ahi, alo := bits.Mul64(a, uint64(bs))
	bhi, blo := bits.Mul64(b, uint64(as))
	return ahi < bhi || (ahi == bhi && alo < blo)
}

// rescale converts tick of a from Hz clock to a to Hz clock, rounding down.
func rescale(tick uint64, from, to uint32) uint64 {
	if from == to {
		return tick
	}
	hi, lo := bits.Mul64(tick, uint64(to))
	if hi >= uint64(from) {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, uint64(from))
	return q
}
