package hls

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

// runIDLayout formats a run id from the publish start (UTC).
const runIDLayout = "20060102T150405Z"

// stage is the segmenter of one stage. Every field but served is owned by the
// goroutine that calls Manager.HandleEvent.
type stage struct {
	m      *Manager
	name   string
	log    *slog.Logger
	served *served
	win    *window

	// rendition is "" for the stage's source, else the rendition's name;
	// grp holds the stage's paths, al a rendition's alignment with the
	// source (align.go), rates its recent segment sizes (BANDWIDTH).
	rendition string
	grp       *group
	al        *aligner
	rates     rates

	nextSeq  uint64
	nextInit int
	lastRun  string // run id without suffix of the previous publish
	runDup   int    // publishes that got lastRun as their base id
	// timeline is where the stage's decode timeline ended: a new run starts
	// there, so that timestamps never go back within a stage.
	timeline   time.Duration
	anySegment bool
	// lastInit and lastInitName are the newest init segment of the stage. A
	// new publish (or parameter change) whose init segment is byte for byte
	// the same keeps using it, with no EXT-X-DISCONTINUITY: the timeline
	// continues anyway, and some players (VLC) stop for good at a
	// discontinuity.
	lastInit     []byte
	lastInitName string
	// fragSeq numbers the fragments (mfhd) of a stage with parts; without
	// parts a segment's one fragment gets its media sequence number + 1.
	fragSeq uint32
	// segCap sizes the next segment's buffer: the last segment's size plus a
	// margin, so that appending its parts rarely copies.
	segCap int

	run *run // nil while the stage is offline

	mSegments prometheus.Counter
	mBytes    prometheus.Counter
}

// run is one publish on the stage.
type run struct {
	id     string
	tracks []*track
	main   int // the track segments are cut on: the first video track, else the first track
	broken bool

	started       bool          // the first keyframe has arrived
	startDTS      time.Duration // stream DTS of the first kept unit
	base          time.Duration // stage timeline at startDTS
	lastMainDTS   time.Duration // stream DTS of the newest unit of the main track
	firstReceived time.Time     // wall clock at startDTS

	init     []byte // nil until built (or after new codec parameters)
	initName string
	initErr  bool // init failure logged

	segOpen  bool
	segStart time.Duration // timeline time of the open segment's first sample
	// segKey is the presentation time, on the timeline, of the keyframe that
	// opened the segment. Cuts compare keyframe presentation times: encoders
	// place keyframes by frame count in display order, while a container's
	// decode times may be shifted at the start (GStreamer's flvmux clamps
	// negative DTS to 0) or rounded (FLV's milliseconds).
	segKey   time.Duration
	disc     bool // the next segment follows a new init segment
	cutEarly bool // cut the first segment at the next keyframe: nothing is served yet
	waitKey  bool // units were dropped: wait for a keyframe

	// The open segment's bytes: its parts' fragments, appended in place.
	// Parts served before the segment is complete are slices of it.
	segBuf    []byte
	parts     int           // parts written into segBuf
	partStart time.Duration // timeline time where the open part starts
	fts       []fragTrack   // reused list of the tracks of one fragment
	// lastPart and lastPartData are the open segment's final part, written
	// by flush and published with the segment.
	lastPart     string
	lastPartData []byte

	lastKey   time.Duration
	hasKey    bool
	gopWarned bool // logged for this run
	gopSet    bool // warning shown
}

func newStage(m *Manager, g *group, rendition string) *stage {
	name := g.name
	log := m.Log.With("stage", name)
	if rendition != "" {
		log = log.With("rendition", rendition)
	}
	st := &stage{
		m:         m,
		name:      name,
		log:       log,
		served:    newServed(),
		win:       newWindow(m.Window, m.SegmentDuration, m.PartDuration),
		rendition: rendition,
		grp:       g,
	}
	if m.mSegments != nil {
		st.mSegments = m.mSegments.WithLabelValues(name)
		st.mBytes = m.mBytes.WithLabelValues(name)
	}
	return st
}

func (st *stage) start(s *stream.Stream) {
	if st.run != nil {
		st.end(time.Now())
	}
	r := &run{id: st.runID(s.Start), main: -1}
	for i, tr := range s.Tracks {
		t, err := newTrack(i+1, tr.Codec)
		if err != nil {
			st.log.Error("cannot segment this publish: no live HLS until it is republished with H.264/H.265 and AAC/Opus",
				"run", r.id, "error", err)
			r.broken = true
			break
		}
		r.tracks = append(r.tracks, t)
		if r.main < 0 && t.video {
			r.main = i
		}
	}
	if r.main < 0 {
		r.main = 0
	}
	r.disc = st.anySegment
	r.cutEarly = len(st.win.entries) == 0
	st.run = r
	if st.rendition != "" {
		st.al = &aligner{st: st}
	}
	st.served.setLive(true, r.id, st.win.snapshot(true))
	st.log.Debug("hls run started", "run", r.id)
}

// runID names a run after its publish start, adding "-2", "-3"… when the
// stage already had a run starting in the same second.
func (st *stage) runID(start time.Time) string {
	if start.IsZero() {
		start = time.Now()
	}
	id := start.UTC().Format(runIDLayout)
	if id != st.lastRun {
		st.lastRun, st.runDup = id, 1
		return id
	}
	st.runDup++
	return id + "-" + strconv.Itoa(st.runDup)
}

func (st *stage) end(now time.Time) {
	r := st.run
	if r == nil {
		return
	}
	st.closeOut(now)
	if r.gopSet {
		st.m.setPathWarning(st, "gop", stream.Warning{})
	}
	st.run = nil
	st.served.setLive(false, "", st.win.snapshot(false))
	st.log.Debug("hls run ended", "run", r.id)
	if st.m.Sink != nil {
		st.m.Sink.RunEnded(st.name, st.rendition, r.id)
	}
	st.ended(now)
}

// dropped closes the open segment after units were lost and waits for a keyframe.
func (st *stage) dropped(n int) {
	r := st.run
	if r == nil || !r.started {
		return
	}
	st.log.Debug("units dropped before the segmenter, waiting for a keyframe", "dropped", n)
	st.closeOut(time.Now())
	r.waitKey = true
}

func (st *stage) unit(u *stream.Unit) {
	r := st.run
	if r == nil || r.broken || u.Track < 0 || u.Track >= len(r.tracks) {
		return
	}
	t := r.tracks[u.Track]
	isMain := u.Track == r.main
	key := !t.video || u.RandomAccess
	if isMain {
		st.observe(u)
	}
	if !r.started {
		if st.al != nil {
			st.anchorRendition(r, u, isMain && key)
			return
		}
		if !isMain || !key {
			return
		}
		r.started = true
		r.startDTS = u.DTS
		r.base = st.timeline
		r.firstReceived = u.Received
		if r.firstReceived.IsZero() {
			r.firstReceived = time.Now()
		}
		st.anchored(r)
	}
	if isMain && r.segOpen && t.hasPending && timestampJump(u.DTS-r.lastMainDTS) {
		// The publisher's clock jumped (a camera restarted its RTP clock…):
		// close what exists and start the timeline again at the next
		// keyframe, continuing the stage timeline where it stopped.
		st.log.Warn("timestamps jumped, restarting the segment timeline at the next keyframe",
			"run", r.id, "jump", (u.DTS - r.lastMainDTS).String())
		st.closeOut(time.Now())
		r.started = false
		if st.al != nil {
			st.al.clockOK = false // measure the new clock before anchoring on it
		}
		st.unit(u)
		return
	}
	if isMain && key && st.al != nil && st.al.stale() {
		// The source anchored again (new publish, clock jump): so does the
		// rendition, at this keyframe.
		st.closeOut(time.Now())
		r.started = false
		st.unit(u)
		return
	}
	if !isMain && r.segOpen && absDur(u.DTS-r.lastMainDTS) > 10*time.Second {
		return // from before or after a jump of the publisher's clock
	}
	if u.DTS < r.startDTS {
		return // before the first keyframe
	}
	if r.waitKey {
		if !isMain || !key {
			return
		}
		r.waitKey = false
	}
	tl := r.base + (u.DTS - r.startDTS)
	tick := toTicks(tl, t.timescale)
	if tick < t.floor {
		return
	}
	if t.hasPending && tick <= t.pendingTick {
		if !isMain {
			return
		}
		tick = t.pendingTick + 1 // keep decode order strictly increasing
	}

	if isMain && key {
		ptl := r.base + (u.PTS - r.startDTS) // presentation time on the timeline
		newCodec := t.changedParams(u.AU)
		if r.segOpen && st.shouldCut(r, t, ptl, newCodec != nil) {
			if t.hasPending {
				t.finalize(tick)
			}
			st.flush(tl, u.Received)
		}
		if newCodec != nil {
			t.codec = newCodec
			if r.init != nil {
				r.init = nil
				r.disc = st.anySegment
				st.log.Info("codec parameters changed, starting a new init segment", "run", r.id)
			}
		}
		if t.video {
			st.checkGOP(r, ptl)
		}
		if r.init == nil && !st.makeInit(r) {
			r.started = r.segOpen // retry with the next keyframe
			return
		}
		if !r.segOpen {
			r.segOpen = true
			r.segStart = tl
			r.segKey = ptl
			r.partStart = tl
			st.segmentOpened(ptl)
		}
		st.keyframe(ptl, cutTolerance(t, st.m.SegmentDuration))
	}
	if !r.segOpen {
		return
	}
	if isMain && t.hasPending && st.m.PartDuration > 0 && st.shouldCutPart(r, t, tl) {
		t.finalize(tick)
		st.writePart(tl, false)
	}
	if isMain {
		r.lastMainDTS = u.DTS
	}
	if err := t.push(u, tick); err != nil {
		st.log.Debug("unit skipped", "track", u.Track, "error", err)
	}
}

// shouldCut tells whether a keyframe of the main track presented at ptl ends
// the open segment. A keyframe up to half a frame short of the target counts
// as reaching it: that is where the encoder meant it to be, and waiting for the
// next one would double the segment (timestamps rounded to milliseconds, a
// capture clock's jitter). The segment's duration in the playlist stays the
// exact sum of its samples' durations.
func (st *stage) shouldCut(r *run, t *track, ptl time.Duration, newParams bool) bool {
	d := ptl - r.segKey
	target := st.m.SegmentDuration
	if st.al != nil && !newParams {
		return st.al.shouldCut(ptl, r.segKey, cutTolerance(t, target), target)
	}
	return newParams || d >= target-cutTolerance(t, target) || (r.cutEarly && d >= target/4)
}

// shouldCutPart tells whether a unit of the main track at timeline time tl
// ends the open part: the part has reached its target, give or take half a
// frame (parts end on the main track's sample boundaries).
func (st *stage) shouldCutPart(r *run, t *track, tl time.Duration) bool {
	target := st.m.PartDuration
	return tl-r.partStart >= target-cutTolerance(t, target)
}

// cutTolerance is half the main track's frame duration, between 1 ms and a
// tenth of the target.
func cutTolerance(t *track, target time.Duration) time.Duration {
	frame := fromTicks(uint64(t.lastDur), t.timescale)
	if t.lastDur == 0 {
		frame = fromTicks(uint64(t.defaultDuration()), t.timescale)
	}
	return min(max(frame/2, time.Millisecond), target/10)
}

// checkGOP warns, once per run in the log and as a stage warning, when the
// keyframe interval exceeds the segment target: segments then last one GOP.
func (st *stage) checkGOP(r *run, tl time.Duration) {
	if r.hasKey && tl > r.lastKey {
		gop := tl - r.lastKey
		target := st.m.SegmentDuration
		long := gop > target+target/10
		switch {
		case long && !r.gopSet:
			st.m.setPathWarning(st, "gop", stream.Warn("hls.gop_long",
				"Seconds", fmt.Sprintf("%.1f", gop.Seconds()), "Target", target.String()))
			r.gopSet = true
			if !r.gopWarned {
				r.gopWarned = true
				st.log.Warn("keyframe interval longer than the segment target, segments will last one GOP",
					"run", r.id, "keyframe_interval", gop.String(), "target", target.String())
			}
		case !long && r.gopSet:
			st.m.setPathWarning(st, "gop", stream.Warning{})
			r.gopSet = false
		}
	}
	r.lastKey, r.hasKey = tl, true
}

// makeInit builds the init segment for the run's current codecs.
func (st *stage) makeInit(r *run) bool {
	init := fmp4.Init{}
	for _, t := range r.tracks {
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: t.id, TimeScale: t.timescale, Codec: t.codec})
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		if !r.initErr {
			r.initErr = true
			st.log.Warn("cannot build the init segment yet, waiting for a keyframe with codec parameters",
				"run", r.id, "error", err)
		}
		return false
	}
	if bytes.Equal(buf.Bytes(), st.lastInit) {
		// Same codec parameters as the stage's newest segments: continue
		// them without a discontinuity.
		r.init, r.initName = st.lastInit, st.lastInitName
		if r.disc {
			r.disc = false
			st.log.Info("same codec parameters as before, the playlist continues without a discontinuity", "run", r.id, "init", r.initName)
		}
		st.served.addInit(r.initName, r.init)
		return true
	}
	r.init = buf.Bytes()
	r.initName = "init-" + strconv.Itoa(st.nextInit) + ".mp4"
	st.nextInit++
	st.lastInit, st.lastInitName = r.init, r.initName
	st.served.addInit(r.initName, r.init)
	return true
}

// closeOut ends the open segment with what exists: each track's last sample
// gets the duration of the sample before it.
func (st *stage) closeOut(now time.Time) {
	r := st.run
	if r == nil || !r.segOpen {
		return
	}
	for _, t := range r.tracks {
		t.finalizeGuess()
	}
	main := r.tracks[r.main]
	st.flush(max(fromTicks(main.end, main.timescale), r.segStart), now)
	for _, t := range r.tracks {
		if t.end > t.floor {
			t.floor = t.end
		}
	}
}

// writePart appends the tracks' finished samples to the open segment as one
// fragment (a part) that ends at timeline time end, and publishes it. Without
// parts (PartDuration 0) it is called once per segment, by flush. The last
// part of a segment (final) is only listed: flush publishes it with the
// segment, so that no playlist hints at a part after the last one.
func (st *stage) writePart(end time.Duration, final bool) {
	r := st.run
	fts := r.fts[:0]
	for _, t := range r.tracks {
		if len(t.samples) > 0 {
			fts = append(fts, t.fragment())
		}
	}
	r.fts = fts
	if len(fts) == 0 {
		return
	}
	main := r.tracks[r.main]
	independent := len(main.samples) > 0 && !main.samples[0].nonSync
	seq := uint32(st.nextSeq + 1)
	if st.m.PartDuration > 0 {
		st.fragSeq++
		seq = st.fragSeq
	}
	if r.segBuf == nil {
		r.segBuf = make([]byte, 0, max(st.segCap, 64<<10))
	}
	off := len(r.segBuf)
	buf, err := appendFragment(r.segBuf, seq, fts)
	for _, t := range r.tracks {
		if len(t.samples) > 0 {
			if e := fromTicks(t.end, t.timescale); e > st.timeline {
				st.timeline = e
			}
		}
		t.release()
	}
	clear(r.fts)
	if err != nil {
		st.log.Error("cannot write a media fragment, skipping it", "run", r.id, "error", err)
		return
	}
	r.segBuf = buf
	dur := end - r.partStart
	r.partStart = end
	n := r.parts
	r.parts++
	if st.m.PartDuration > 0 {
		p := partEntry{name: partName(st.nextSeq, n), dur: dur, independent: independent}
		data := buf[off:len(buf):len(buf)]
		st.win.addPart(p, segHead{init: r.initName, disc: r.disc, start: r.firstReceived.Add(r.segStart - r.base)})
		if final {
			r.lastPart, r.lastPartData = p.name, data
			return
		}
		st.served.publishPart(p.name, data, st.win.snapshot(true))
	}
}

// flush writes the open segment, which ends at timeline time end, and
// publishes it. closedAt is when the unit that closed it arrived.
func (st *stage) flush(end time.Duration, closedAt time.Time) {
	r := st.run
	r.segOpen = false
	st.writePart(end, true)
	data := r.segBuf
	lastPart, lastPartData := r.lastPart, r.lastPartData
	r.segBuf, r.parts, r.lastPart, r.lastPartData = nil, 0, "", nil
	if len(data) == 0 {
		return
	}
	st.segCap = len(data) + len(data)/4
	seg := &Segment{
		Stage:         st.name,
		Rendition:     st.rendition,
		Run:           r.id,
		Seq:           st.nextSeq,
		Name:          strconv.FormatUint(st.nextSeq, 10) + ".m4s",
		InitName:      r.initName,
		Init:          r.init,
		Data:          data[:len(data):len(data)],
		Start:         r.firstReceived.Add(r.segStart - r.base),
		Duration:      end - r.segStart,
		Discontinuity: r.disc,
	}
	st.nextSeq++
	st.anySegment = true
	r.disc = false
	r.cutEarly = false

	remove := st.win.add(entry{
		seq: seg.Seq, name: seg.Name, initName: seg.InitName,
		dur: seg.Duration, start: seg.Start, disc: seg.Discontinuity, ptl: r.segStart,
	}, r.initName)
	st.served.publish(seg, lastPart, lastPartData, st.win.snapshot(st.run != nil), remove)
	if st.m.mLatency != nil {
		st.m.mLatency.Observe(max(time.Since(closedAt), 0).Seconds())
		st.mSegments.Inc()
		st.mBytes.Add(float64(len(seg.Data)))
	}
	if st.m.Sink != nil {
		st.m.Sink.SegmentReady(seg)
	}
	st.segmentDone(seg)
}

// partName is the file name of part n (from 0) of segment seq.
func partName(seq uint64, n int) string {
	return strconv.FormatUint(seq, 10) + "." + strconv.Itoa(n) + ".m4s"
}

// timestampJump tells whether the distance between two successive units of
// the main track is no plausible frame interval.
func timestampJump(d time.Duration) bool {
	return d < -time.Second || d > 10*time.Second
}
