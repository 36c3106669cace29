package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
)

// publishRegistry is what the ingest servers need from stream.Registry.
type publishRegistry interface {
	Publish(*stream.Stream) (*stream.Publisher, error)
	// PathLive tells whether the stage's source (rendition "") or one
	// rendition has a publisher: a second one there is refused.
	PathLive(stage, rendition string) bool
}

var _ publishRegistry = (*stream.Registry)(nil)

// publication turns the access units of one publish (RTSP session, RTMP
// connection or pulled camera) into stream.Units, in order.
//
// It claims the stage lazily: when a video track arrives without parameter
// sets (an SDP without sprop-parameter-sets), Publish waits for the first
// in-band SPS/PPS(/VPS), and units that come before are dropped.
//
// mu guards everything below it: protocol libraries may call per-track
// callbacks from different goroutines, and the registry needs one order.
type publication struct {
	reg    publishRegistry
	log    *slog.Logger
	stream *stream.Stream // Tracks[i] belongs to tracks[i]
	// refused is called once when a deferred Publish fails, with mu held: it
	// must not block nor call back into the publication (it typically asks
	// the connection to close).
	refused func(error)
	// ended, when set, is called once on its own goroutine when the
	// registry ends the publish from outside (Registry.EndStage: the node
	// lost the stage); it closes the connection.
	ended func(error)
	done  chan struct{} // closed by close

	// lastMedia is when the last audio or video packet arrived (Unix ns),
	// for the media watchdog.
	lastMedia atomic.Int64

	mu       sync.Mutex
	tracks   []*trackConv
	pub      *stream.Publisher
	closed   bool
	failed   bool
	watchdog *time.Timer
}

// trackConv holds the per-track conversion state.
type trackConv struct {
	index int
	codec mp4codecs.Codec
	// video only
	keySeen bool // a random-access unit has been written since the last reset
	dts264  *h264.DTSExtractor
	dts265  *h265.DTSExtractor
	// params is the latest parameter set NALUs seen (SDP or in-band); the
	// first keyframe after a reset gets them when it lacks them, because the
	// DTS extractor needs the SPS (and the PPS for H.265).
	params [][]byte
	// pending holds NALUs of an AU without picture (e.g. RTMP's sequence
	// header with SPS and PPS), prepended to the next picture.
	pending [][]byte
}

// maxPendingNALUs bounds pending against a client that sends only headers.
const maxPendingNALUs = 16

func newPublication(reg publishRegistry, log *slog.Logger, s *stream.Stream, codecs []mp4codecs.Codec) *publication {
	p := &publication{reg: reg, log: log, stream: s, done: make(chan struct{})}
	for i, c := range codecs {
		t := &trackConv{index: i, codec: c}
		switch c := c.(type) {
		case *mp4codecs.H264:
			t.params = nonEmpty(c.SPS, c.PPS)
		case *mp4codecs.H265:
			t.params = nonEmpty(c.VPS, c.SPS, c.PPS)
		}
		p.tracks = append(p.tracks, t)
	}
	return p
}

// ready tells whether every video track knows its parameter sets.
func (p *publication) ready() bool {
	for _, t := range p.tracks {
		if !codecReady(t.codec) {
			return false
		}
	}
	return true
}

func codecReady(c mp4codecs.Codec) bool {
	switch c := c.(type) {
	case *mp4codecs.H264:
		return len(c.SPS) > 0 && len(c.PPS) > 0
	case *mp4codecs.H265:
		return len(c.VPS) > 0 && len(c.SPS) > 0 && len(c.PPS) > 0
	}
	return true
}

// start claims the stage if every track is ready. It returns nil when the
// start is deferred; an error means the publish must be refused.
func (p *publication) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked()
}

func (p *publication) startLocked() error {
	if p.pub != nil || p.closed || p.failed || !p.ready() {
		return nil
	}
	for i, t := range p.tracks {
		p.stream.Tracks = append(p.stream.Tracks[:i], &stream.Track{Codec: t.codec})
	}
	pub, err := p.reg.Publish(p.stream)
	if err != nil {
		p.failed = true
		return err
	}
	p.pub = pub
	if p.ended != nil {
		p.watchEndLocked()
	}
	return nil
}

// whenEnded calls f (once, on its own goroutine, without locks held) if
// the registry ends the publish from outside: the node lost the stage to
// another node, and f closes the connection so that the encoder reconnects.
func (p *publication) whenEnded(f func(error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = f
	if p.pub != nil {
		p.watchEndLocked()
	}
}

// watchEndLocked waits for the publish to end. Called with mu held.
func (p *publication) watchEndLocked() {
	pub, f, done := p.pub, p.ended, p.done
	go func() {
		select {
		case <-pub.Ended():
			if err := pub.EndReason(); err != nil {
				f(err)
			}
		case <-done:
		}
	}()
}

// started tells whether the stage has been claimed.
func (p *publication) started() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pub != nil
}

// watchMedia calls onStall once (on a timer's goroutine, without locks
// held) when no audio or video has arrived for timeout, counted from now.
// It is how a publisher whose encoder is stuck but whose connection stays
// open (keepalives, RTCP) loses its stage: time outs on socket reads never
// fire for it.
func (p *publication) watchMedia(timeout time.Duration, onStall func(idle time.Duration)) {
	p.lastMedia.Store(time.Now().UnixNano())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.watchdog != nil {
		return
	}
	var check func()
	check = func() {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		idle := time.Since(time.Unix(0, p.lastMedia.Load()))
		if idle < timeout {
			p.watchdog.Reset(timeout - idle)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		onStall(idle)
	}
	p.watchdog = time.AfterFunc(timeout, check)
}

// close ends the publish (if it started) and stops accepting units.
func (p *publication) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		close(p.done)
	}
	p.closed = true
	if p.watchdog != nil {
		p.watchdog.Stop()
	}
	if p.pub != nil {
		p.pub.Close()
	}
}

// deferredStart starts the publish once the last parameter set arrives; it
// reports a refusal through p.refused. Called with mu held.
func (p *publication) deferredStart() {
	if p.pub != nil || p.failed {
		return
	}
	if err := p.startLocked(); err != nil {
		p.log.Warn("publish refused", "stage", p.stream.Stage, "rendition", stream.RenditionName(p.stream.Rendition), "remote", p.stream.Remote, "reason", err.Error())
		if p.refused != nil {
			p.refused(err)
		}
	}
}

// writeVideoTicks writes one video access unit whose PTS is in units of a
// clock of clockRate Hz; the DTS is derived from the bitstream.
func (p *publication) writeVideoTicks(track int, au [][]byte, pts int64, clockRate int, received time.Time) {
	p.writeVideo(track, au, pts, 0, false, clockRate, received)
}

// writeVideoDTS writes one video access unit whose PTS and DTS are known.
func (p *publication) writeVideoDTS(track int, au [][]byte, pts, dts time.Duration, received time.Time) {
	p.writeVideo(track, au, int64(pts), int64(dts), true, int(time.Second), received)
}

func (p *publication) writeVideo(track int, au [][]byte, pts, dts int64, hasDTS bool, clockRate int, received time.Time) {
	p.lastMedia.Store(received.UnixNano())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.failed {
		return
	}
	t := p.tracks[track]
	au, picture := p.inspectVideo(t, au)
	if !picture {
		if len(t.pending)+len(au) <= maxPendingNALUs {
			t.pending = append(t.pending, au...)
		}
		p.deferredStart()
		return
	}
	if len(t.pending) > 0 {
		au = append(t.pending, au...)
		t.pending = nil
	}
	rememberParams(t, au)
	p.deferredStart()
	if p.pub == nil {
		return
	}

	var random bool
	switch t.codec.(type) {
	case *mp4codecs.H264:
		random = h264.IsRandomAccess(au)
	case *mp4codecs.H265:
		random = h265.IsRandomAccess(au)
	}
	if !t.keySeen {
		if !random {
			return // not decodable without the preceding frames
		}
		t.keySeen = true
		au = withParams(t, au)
		t.dts264, t.dts265 = nil, nil
		if !hasDTS {
			switch t.codec.(type) {
			case *mp4codecs.H264:
				t.dts264 = &h264.DTSExtractor{}
				t.dts264.Initialize()
			case *mp4codecs.H265:
				t.dts265 = &h265.DTSExtractor{}
				t.dts265.Initialize()
			}
		}
	}
	if !hasDTS {
		var err error
		switch {
		case t.dts264 != nil:
			dts, err = t.dts264.Extract(au, pts)
		case t.dts265 != nil:
			dts, err = t.dts265.Extract(au, pts)
		default:
			dts = pts
		}
		if err != nil {
			// Start over at the next keyframe with a fresh extractor.
			p.log.Debug("cannot compute DTS, waiting for the next keyframe", "stage", p.stream.Stage, "error", err)
			t.keySeen = false
			return
		}
	}
	p.pub.WriteUnit(&stream.Unit{
		Track:        track,
		PTS:          ticksToDuration(pts, clockRate),
		DTS:          ticksToDuration(dts, clockRate),
		Received:     received,
		RandomAccess: random,
		AU:           au,
	})
}

// inspectVideo drops access unit delimiters and, until the publish has
// started, picks up in-band parameter sets for tracks that lack them.
// Parameter sets stay inside the AU: the segmenter detects changes.
// It also tells whether the AU holds a picture. Called with mu held.
func (p *publication) inspectVideo(t *trackConv, au [][]byte) ([][]byte, bool) {
	out := au[:0:0]
	picture := false
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch c := t.codec.(type) {
		case *mp4codecs.H264:
			typ := h264.NALUType(nalu[0] & 0x1f)
			if typ >= h264.NALUTypeNonIDR && typ <= h264.NALUTypeIDR {
				picture = true
			}
			switch typ {
			case h264.NALUTypeAccessUnitDelimiter:
				continue
			case h264.NALUTypeSPS:
				if p.pub == nil {
					c.SPS = clone(nalu)
				}
			case h264.NALUTypePPS:
				if p.pub == nil {
					c.PPS = clone(nalu)
				}
			}
		case *mp4codecs.H265:
			if len(nalu) < 2 {
				continue
			}
			typ := h265.NALUType((nalu[0] >> 1) & 0x3f)
			if typ < 32 { // VCL NAL unit types are 0-31
				picture = true
			}
			switch typ {
			case h265.NALUType_AUD_NUT:
				continue
			case h265.NALUType_VPS_NUT:
				if p.pub == nil {
					c.VPS = clone(nalu)
				}
			case h265.NALUType_SPS_NUT:
				if p.pub == nil {
					c.SPS = clone(nalu)
				}
			case h265.NALUType_PPS_NUT:
				if p.pub == nil {
					c.PPS = clone(nalu)
				}
			}
		}
		out = append(out, nalu)
	}
	return out, picture
}

// writeAudio writes audio frames that follow each other without gaps, the
// first at pts; each frame lasts frameTicks of a clockRate Hz clock.
func (p *publication) writeAudio(track int, frames [][]byte, pts int64, frameTicks int64, clockRate int, received time.Time) {
	p.lastMedia.Store(received.UnixNano())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.failed {
		return
	}
	// Audio never completes a publish, but a video-less publish starts here.
	p.deferredStart()
	if p.pub == nil {
		return
	}
	for i, f := range frames {
		if len(f) == 0 {
			continue
		}
		ts := ticksToDuration(pts+int64(i)*frameTicks, clockRate)
		p.pub.WriteUnit(&stream.Unit{
			Track:        track,
			PTS:          ts,
			DTS:          ts,
			Received:     received,
			RandomAccess: true,
			AU:           [][]byte{f},
		})
	}
}

// ticksToDuration converts v ticks of a clockRate Hz clock without
// overflowing for long sessions.
func ticksToDuration(v int64, clockRate int) time.Duration {
	if clockRate == int(time.Second) {
		return time.Duration(v)
	}
	cr := int64(clockRate)
	return time.Duration(v/cr)*time.Second + time.Duration((v%cr)*int64(time.Second)/cr)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func nonEmpty(nalus ...[]byte) [][]byte {
	var out [][]byte
	for _, n := range nalus {
		if len(n) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// withParams prepends the track's known parameter sets to a keyframe that
// carries none.
func withParams(t *trackConv, au [][]byte) [][]byte {
	for _, nalu := range au {
		if isParamSet(t.codec, nalu) {
			return au
		}
	}
	return append(append([][]byte(nil), t.params...), au...)
}

// nalUnitType reads the NAL unit type of an H.264 or H.265 NALU (-1 if none).
func nalUnitType(c mp4codecs.Codec, nalu []byte) int {
	if len(nalu) == 0 {
		return -1
	}
	switch c.(type) {
	case *mp4codecs.H264:
		return int(nalu[0] & 0x1f)
	case *mp4codecs.H265:
		return int((nalu[0] >> 1) & 0x3f)
	}
	return -1
}

func isParamSet(c mp4codecs.Codec, nalu []byte) bool {
	typ := nalUnitType(c, nalu)
	switch c.(type) {
	case *mp4codecs.H264:
		return typ == int(h264.NALUTypeSPS) || typ == int(h264.NALUTypePPS)
	case *mp4codecs.H265:
		return typ == int(h265.NALUType_VPS_NUT) || typ == int(h265.NALUType_SPS_NUT) || typ == int(h265.NALUType_PPS_NUT)
	}
	return false
}

// rememberParams keeps the latest in-band parameter sets of a track.
func rememberParams(t *trackConv, au [][]byte) {
	for _, nalu := range au {
		if !isParamSet(t.codec, nalu) {
			continue
		}
		replaced := false
		for i, old := range t.params {
			if nalUnitType(t.codec, old) == nalUnitType(t.codec, nalu) {
				t.params[i], replaced = clone(nalu), true
			}
		}
		if !replaced {
			t.params = append(t.params, clone(nalu))
		}
	}
}

// unsupportedError is a publish with no track salon can use.
type unsupportedError struct {
	codecs []string
}

func (e *unsupportedError) Error() string {
	if len(e.codecs) == 0 {
		return "the publish has no media track; " + codecAdvice
	}
	verb := "is"
	if len(e.codecs) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s %s not supported; %s", joinNames(e.codecs), verb, codecAdvice)
}

const codecAdvice = "publish H.264 or H.265 video with AAC or Opus audio"

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			out += " and "
		default:
			out += ", "
		}
		out += n
	}
	return out
}

// errNoTrack is wrapped by errors about a publish that has nothing usable.
var errNoTrack = errors.New("no usable track")

// trackPicker chooses the tracks of a publish: the first supported video and
// the first supported audio track. Others are named for the logs.
type trackPicker struct {
	codecs  []mp4codecs.Codec
	skipped []string // names of codecs not supported
	extra   []string // supported but beyond the first of their kind
	video   bool
	audio   bool
}

// add offers a track; it returns its index in codecs, or -1 when skipped.
func (tp *trackPicker) add(c mp4codecs.Codec, name string) int {
	if c == nil {
		tp.skipped = append(tp.skipped, name)
		return -1
	}
	if (c.IsVideo() && tp.video) || (!c.IsVideo() && tp.audio) {
		tp.extra = append(tp.extra, name)
		return -1
	}
	if c.IsVideo() {
		tp.video = true
	} else {
		tp.audio = true
	}
	tp.codecs = append(tp.codecs, c)
	return len(tp.codecs) - 1
}

// result fails with an *unsupportedError when nothing usable remains, and
// logs what was skipped otherwise.
func (tp *trackPicker) result(log *slog.Logger, stage, remote string) error {
	if len(tp.codecs) == 0 {
		return fmt.Errorf("%w: %w", errNoTrack, &unsupportedError{codecs: tp.skipped})
	}
	if len(tp.skipped) > 0 {
		log.Warn("skipping unsupported tracks", "stage", stage, "remote", remote, "codecs", tp.skipped,
			"hint", codecAdvice)
	}
	if len(tp.extra) > 0 {
		log.Warn("skipping extra tracks: salon keeps one video and one audio track", "stage", stage, "remote", remote, "codecs", tp.extra)
	}
	return nil
}
