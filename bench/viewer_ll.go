package bench

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// llViewer is one simulated Low-Latency HLS player of one media playlist
// (RFC 8216bis §6.2.5–6.2.6, §6.3.7). Like viewer, it is owned by the one
// goroutine that runs it, except for the preload-hint request, whose result
// it receives on a channel.
//
// What it does, per reload:
//  1. It asks for the playlist that lists the next part (_HLS_msn, _HLS_part
//     of the part after the last one it saw) and the server holds the request
//     until that part exists (blocking reload). With hints on, it requests the
//     EXT-X-PRELOAD-HINT part at the same moment, which the server also holds
//     until the part is complete: both return together when the part is
//     written, as with Apple's player.
//  2. It downloads, in order, every part it has not played yet (the hinted
//     one is already here). A segment whose parts the server no longer lists
//     (the viewer fell behind) is downloaded whole, like a classic player.
//
// Joining: at PART-HOLD-BACK before the live edge (hls.js's target latency in
// low-latency mode), from the INDEPENDENT part at or before that point, since
// decoding starts on a keyframe. Playback starts when the media listed at
// join has arrived, with PART-HOLD-BACK of it ahead of the play head; from
// then on the play-out model is viewer's: a part that arrives after the
// buffer ran dry is a stall.
type llViewer struct {
	viewer
	hints bool // request EXT-X-PRELOAD-HINT parts ahead
	skip  bool // ask for delta updates (_HLS_skip=YES) when the server offers them

	nextPart int           // index in segment nextSeq of the next part to play
	consumed time.Duration // media of segment nextSeq already played as parts
	lastDone time.Time     // arrival of the latest media, so accounting never goes back in time

	hint *hintResult // the held request's outcome, once it returned
}

// hintResult is the outcome of one preload-hint request.
type hintResult struct {
	url     string
	done    time.Time
	latency time.Duration
	bytes   int64
	err     error
}

func (v *llViewer) run(ctx context.Context) {
	v.startedAt = time.Now()
	defer v.finish()
	defer v.closeConns()
	var pl *mediaPlaylist
	retry := time.Second
	for ctx.Err() == nil && !v.ended {
		var query url.Values
		var hintCh chan hintResult
		if pl != nil {
			query = v.reloadQuery(pl)
			hintCh = v.startHint(ctx, pl)
		}
		loadStart := time.Now()
		next, err := v.loadPlaylistQuery(ctx, query)
		if hintCh != nil {
			r := <-hintCh
			v.takeHint(ctx, r)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			v.countError(err)
			if !sleepUntil(ctx, loadStart.Add(retry)) {
				return
			}
			continue
		}
		pl = next
		retry = max(pl.partTarget, 100*time.Millisecond)
		if pl.partTarget == 0 {
			retry = pl.targetDuration / 2
		}
		v.followLL(ctx, pl)
		if !pl.canBlockReload {
			// No blocking reload: poll at the part (or, without parts, half
			// the segment) rhythm, RFC 8216bis §6.3.4.
			if !sleepUntil(ctx, loadStart.Add(retry)) {
				return
			}
		}
	}
}

// closeConns closes the player's own connections, if it has them, once
// nothing uses them any more (the hint request is always waited for).
func (v *llViewer) closeConns() {
	for _, rc := range []*rawConn{v.plConn, v.mediaConn} {
		if rc != nil {
			rc.close()
		}
	}
}

// reloadQuery is the query of the next reload: a blocking request for the
// part after the last one listed, with a delta update when allowed.
func (v *llViewer) reloadQuery(pl *mediaPlaylist) url.Values {
	if !pl.canBlockReload {
		return nil
	}
	msn, part := pl.nextPart()
	q := url.Values{"_HLS_msn": {strconv.FormatUint(msn, 10)}}
	if pl.partTarget > 0 {
		q.Set("_HLS_part", strconv.Itoa(part))
	}
	if v.skip && pl.canSkipUntil > 0 {
		q.Set("_HLS_skip", "YES")
	}
	return q
}

// startHint requests the playlist's preload-hint part in its own goroutine
// when hints are on and the part is one not played yet; nil otherwise.
func (v *llViewer) startHint(ctx context.Context, pl *mediaPlaylist) chan hintResult {
	if !v.hints || pl.preloadHint == "" || !v.joined {
		return nil
	}
	u, err := v.resolve(pl.preloadHint)
	if err != nil {
		v.countError(err)
		return nil
	}
	ch := make(chan hintResult, 1)
	// fetch reads only fields that never change; the byte count comes back
	// through the channel.
	go func() {
		t0 := time.Now()
		_, n, err := v.fetch(ctx, u, false)
		done := time.Now()
		ch <- hintResult{url: u.String(), done: done, latency: done.Sub(t0), bytes: n, err: err}
	}()
	return ch
}

// takeHint records a returned hint request; a failed one is counted and the
// part is downloaded normally once listed.
func (v *llViewer) takeHint(ctx context.Context, r hintResult) {
	v.stats.bytes += r.bytes
	if r.err != nil {
		if ctx.Err() == nil {
			v.countErrorKind("hint " + errorKind(r.err))
		}
		v.hint = nil
		return
	}
	v.hint = &r
}

// followLL joins or resyncs, then downloads every part (or whole segment) not
// played yet, in order.
func (v *llViewer) followLL(ctx context.Context, pl *mediaPlaylist) {
	edge := pl.edgeSeq()
	switch {
	case len(pl.segments) == 0 && len(pl.trailing) == 0:
		return
	case !v.joined:
		v.joinLL(pl)
	case v.nextSeq > edge || (v.nextSeq == edge && v.nextPart > len(pl.trailing) && len(pl.trailing) > 0):
		// The sequence went back: the stream restarted. Join the new run.
		v.joinLL(pl)
	case v.nextSeq < pl.mediaSequence:
		// We fell behind and segments slid out of the playlist: resync to
		// the live position like hls.js does.
		v.stats.missed += int64(pl.mediaSequence - v.nextSeq)
		v.joinLL(pl)
	}
	if !v.fetchInit(ctx, pl) {
		return
	}
	for ctx.Err() == nil {
		if v.nextSeq == edge {
			if v.nextPart >= len(pl.trailing) {
				break
			}
			v.fetchPart(ctx, pl.trailing[v.nextPart])
			v.nextPart++
			continue
		}
		seg := pl.segments[v.nextSeq-pl.mediaSequence]
		switch {
		case seg.gap:
			v.nextSegment()
		case v.nextPart < len(seg.parts):
			v.fetchPart(ctx, seg.parts[v.nextPart])
			v.nextPart++
		case len(seg.parts) > 0:
			v.nextSegment() // every part played
		default:
			// Its parts are no longer listed: the whole segment, minus what
			// was played of it as parts.
			v.fetchWhole(ctx, seg)
			v.nextSegment()
		}
	}
	if pl.endList && v.nextSeq >= edge && len(pl.trailing) == 0 {
		v.ended = true
	}
}

func (v *llViewer) nextSegment() {
	v.nextSeq++
	v.nextPart = 0
	v.consumed = 0
}

// joinLL picks the start position: the independent part at or before
// PART-HOLD-BACK from the live edge (a whole segment when none is listed
// there), and how much media playback waits for.
func (v *llViewer) joinLL(pl *mediaPlaylist) {
	v.joined = true
	v.playing = false
	v.buffered = 0
	hold := pl.partHoldBack
	if hold == 0 {
		hold = 3 * pl.partTarget
	}
	if hold == 0 {
		hold = 3 * pl.targetDuration // no parts: a classic playlist
	}
	// Walk back over all listed media, newest first: trailing parts, then
	// each segment (by its parts when listed).
	type pos struct {
		seq  uint64
		part int
		dur  time.Duration
		ind  bool
	}
	var list []pos
	for i, s := range pl.segments {
		seq := pl.mediaSequence + uint64(i)
		if len(s.parts) == 0 {
			list = append(list, pos{seq, 0, s.duration, !s.gap})
			continue
		}
		for j, p := range s.parts {
			list = append(list, pos{seq, j, p.duration, p.independent})
		}
	}
	for j, p := range pl.trailing {
		list = append(list, pos{pl.edgeSeq(), j, p.duration, p.independent})
	}
	var ahead time.Duration
	i := len(list)
	for i > 0 && ahead < hold {
		i--
		ahead += list[i].dur
	}
	start := i
	for start > 0 && !list[start].ind {
		start--
	}
	var avail time.Duration
	for _, p := range list[start:] {
		avail += p.dur
	}
	v.nextSeq, v.nextPart, v.consumed = list[start].seq, list[start].part, 0
	v.startBuffer = avail
	v.startAhead = min(hold, avail)
}

// fetchInit downloads EXT-X-MAP when it changed; false when it failed.
func (v *llViewer) fetchInit(ctx context.Context, pl *mediaPlaylist) bool {
	if pl.mapURI == "" {
		return true
	}
	u, err := v.resolve(pl.mapURI)
	if err != nil {
		v.countError(err)
		return false
	}
	if u.String() == v.initURL {
		return true
	}
	if _, _, err := v.get(ctx, u, false); err != nil {
		if ctx.Err() == nil {
			v.countError(err)
		}
		return false
	}
	v.stats.initSegments++
	v.initURL = u.String()
	return true
}

// fetchPart plays one part: from the hint request when that was this part,
// downloaded otherwise.
func (v *llViewer) fetchPart(ctx context.Context, p part) {
	u, err := v.resolve(p.uri)
	if err != nil {
		v.countError(err)
		v.stats.missed++
		return
	}
	if h := v.hint; h != nil && h.url == u.String() {
		v.hint = nil
		v.stats.parts++
		v.stats.hints++
		v.stats.hintLatency = append(v.stats.hintLatency, h.latency)
		v.playAt(h.done, p.duration)
		v.consumed += p.duration
		return
	}
	t0 := time.Now()
	_, _, err = v.get(ctx, u, false)
	done := time.Now()
	if err != nil {
		if ctx.Err() == nil {
			v.countError(err)
			v.stats.missed++
		}
		return
	}
	v.stats.parts++
	v.stats.partLatency = append(v.stats.partLatency, done.Sub(t0))
	v.playAt(done, p.duration)
	v.consumed += p.duration
}

// fetchWhole downloads a complete segment whose parts are gone.
func (v *llViewer) fetchWhole(ctx context.Context, s segment) {
	u, err := v.resolve(s.uri)
	if err != nil {
		v.countError(err)
		v.stats.missed++
		return
	}
	t0 := time.Now()
	_, _, err = v.get(ctx, u, false)
	done := time.Now()
	if err != nil {
		if ctx.Err() == nil {
			v.countError(err)
			v.stats.missed++
		}
		return
	}
	v.stats.segments++
	v.stats.segLatency = append(v.stats.segLatency, done.Sub(t0))
	v.playAt(done, max(0, s.duration-v.consumed))
}

// playAt accounts media that arrived at done, never before earlier media.
func (v *llViewer) playAt(done time.Time, dur time.Duration) {
	if done.Before(v.lastDone) {
		done = v.lastDone
	}
	v.lastDone = done
	v.play(done, dur)
}
