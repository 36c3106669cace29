package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// maxPlaylistBytes bounds a playlist body; salon's live playlists are a few KB.
const maxPlaylistBytes = 1 << 20

// viewer is one simulated HLS player. Its fields, stats included, are owned by
// the one goroutine that runs it; Viewers.Run reads stats only after that
// goroutine has returned.
//
// Play-out model. The player joins like hls.js: three target durations before
// the end of the playlist. It downloads segments one at a time, in order, each
// exactly once. Playback starts once one target duration of media is downloaded
// (one segment when segments are as long as the target; all that the playlist
// had when the stream is younger than that). From then on the media "runs out"
// at mediaEnd = playback start + downloaded media duration + time spent
// stalled. A segment whose download completes after mediaEnd is a stall: the
// screen froze from mediaEnd until the segment arrived, then playback resumes
// (mediaEnd restarts from the arrival). A segment that fails to download adds no
// media, so the next one usually arrives after the buffer ran dry and counts the
// stall. A viewer whose media ran out when the run ends, without the stream having
// ended, counts one more stall: a server that stops answering stalls everybody.
type viewer struct {
	id          string
	client      *http.Client
	playlistURL *url.URL
	allowRemote bool
	timeout     time.Duration
	bufs        *sync.Pool // of *[]byte, copyBufSize long, shared by all viewers
	// plConn and mediaConn, when set (LL players), carry the playlist
	// reloads and the media requests to the playlist's host instead of
	// client (rawconn.go).
	plConn, mediaConn *rawConn

	stats viewerStats

	startedAt   time.Time
	joined      bool   // picked a start position
	nextSeq     uint64 // media sequence number of the next segment to download
	prevLast    uint64 // last sequence number seen at the previous reload
	havePrev    bool
	initURL     string // init segment already downloaded
	startBuffer time.Duration
	startAhead  time.Duration // media ahead of the play head when playback starts (0: all of startBuffer)
	buffered    time.Duration // media downloaded before playback started
	playing     bool
	mediaEnd    time.Time
	ended       bool // the playlist got EXT-X-ENDLIST and everything was played
}

// viewerStats are one viewer's counters; Run adds them up.
type viewerStats struct {
	playlists    int64
	segments     int64
	initSegments int64
	bytes        int64
	stalls       int64
	stallTime    time.Duration
	missed       int64 // segments never played: failed downloads, or slid out of the playlist
	errors       map[string]int64
	segLatency   []time.Duration
	plLatency    []time.Duration
	parts        int64           // LL-HLS parts played, hinted ones included
	hints        int64           // parts that came from a preload-hint request
	partLatency  []time.Duration // parts requested once listed: request → last byte
	hintLatency  []time.Duration // preload-hint requests: request → last byte, the server's hold included
	started      bool            // playback started
	startup      time.Duration
}

func (v *viewer) countError(err error) {
	if v.stats.errors == nil {
		v.stats.errors = make(map[string]int64)
	}
	v.stats.errors[errorKind(err)]++
}

func (v *viewer) countErrorKind(kind string) {
	if v.stats.errors == nil {
		v.stats.errors = make(map[string]int64)
	}
	v.stats.errors[kind]++
}

// run plays until ctx ends or the stream ends.
func (v *viewer) run(ctx context.Context) {
	v.startedAt = time.Now()
	defer v.finish()
	retry := time.Second // until a playlist told us its target duration
	for ctx.Err() == nil && !v.ended {
		loadStart := time.Now()
		pl, err := v.loadPlaylist(ctx)
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
		retry = pl.targetDuration / 2
		changed := v.follow(ctx, pl)
		// RFC 8216 §6.3.4: reload one target duration after the previous load
		// began when the playlist changed, half of it when it did not.
		wait := pl.targetDuration
		if !changed {
			wait = pl.targetDuration / 2
		}
		if !sleepUntil(ctx, loadStart.Add(wait)) {
			return
		}
	}
}

// follow takes a freshly loaded playlist: joins, fetches the init segment when
// it changed and then every segment not downloaded yet. It reports whether the
// playlist had changed since the previous load.
func (v *viewer) follow(ctx context.Context, pl *mediaPlaylist) bool {
	last, ok := pl.lastSeq()
	changed := !v.havePrev || (ok && last != v.prevLast)
	if ok {
		v.prevLast, v.havePrev = last, true
	}
	if !ok {
		return changed
	}
	switch {
	case !v.joined:
		v.join(pl)
	case last+1 < v.nextSeq:
		// The sequence went back: the stage restarted. Join the new run.
		v.join(pl)
	case pl.mediaSequence > v.nextSeq:
		// We fell behind and segments slid out of the playlist: resync to the
		// live position like hls.js does.
		start := pl.liveStartSeq()
		v.stats.missed += int64(start - v.nextSeq)
		v.nextSeq = start
	}
	if pl.mapURI != "" {
		u, err := v.resolve(pl.mapURI)
		if err != nil {
			v.countError(err)
			return changed
		}
		if u.String() != v.initURL {
			if _, _, err := v.get(ctx, u, false); err != nil {
				if ctx.Err() == nil {
					v.countError(err)
				}
				return changed // without init nothing plays; try again on the next reload
			}
			v.stats.initSegments++
			v.initURL = u.String()
		}
	}
	for seq := v.nextSeq; seq <= last && ctx.Err() == nil; seq++ {
		seg := pl.segments[seq-pl.mediaSequence]
		v.nextSeq = seq + 1
		u, err := v.resolve(seg.uri)
		if err != nil {
			v.countError(err)
			v.stats.missed++
			continue
		}
		t0 := time.Now()
		_, _, err = v.get(ctx, u, false)
		done := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return changed
			}
			v.countError(err)
			v.stats.missed++
			continue
		}
		v.stats.segments++
		v.stats.segLatency = append(v.stats.segLatency, done.Sub(t0))
		v.play(done, seg.duration)
	}
	if pl.endList && v.nextSeq > last {
		v.ended = true
	}
	return changed
}

// join picks the live start position and the media needed before playback.
func (v *viewer) join(pl *mediaPlaylist) {
	v.joined = true
	v.nextSeq = pl.liveStartSeq()
	var avail time.Duration
	for _, s := range pl.segments[v.nextSeq-pl.mediaSequence:] {
		avail += s.duration
	}
	v.startBuffer = min(pl.targetDuration, avail)
}

// play accounts a segment downloaded at done; see the model on viewer.
func (v *viewer) play(done time.Time, dur time.Duration) {
	if !v.playing {
		v.buffered += dur
		if v.buffered >= v.startBuffer {
			v.playing = true
			ahead := v.buffered
			if v.startAhead > 0 {
				ahead = min(v.startAhead, v.buffered)
			}
			v.mediaEnd = done.Add(ahead)
			v.stats.started = true
			v.stats.startup = done.Sub(v.startedAt)
		}
		return
	}
	if done.After(v.mediaEnd) {
		v.stats.stalls++
		v.stats.stallTime += done.Sub(v.mediaEnd)
		v.mediaEnd = done
	}
	v.mediaEnd = v.mediaEnd.Add(dur)
}

// finish counts a stall in progress when the run ends.
func (v *viewer) finish() {
	now := time.Now()
	if v.playing && !v.ended && now.After(v.mediaEnd) {
		v.stats.stalls++
		v.stats.stallTime += now.Sub(v.mediaEnd)
	}
}

func (v *viewer) loadPlaylist(ctx context.Context) (*mediaPlaylist, error) {
	return v.loadPlaylistQuery(ctx, nil)
}

// loadPlaylistQuery loads the playlist with query parameters added (the
// LL-HLS blocking reload's _HLS_msn, _HLS_part, _HLS_skip).
func (v *viewer) loadPlaylistQuery(ctx context.Context, query url.Values) (*mediaPlaylist, error) {
	u := v.playlistURL
	if len(query) > 0 {
		c := *u
		q := c.Query()
		for k, vs := range query {
			q[k] = vs
		}
		c.RawQuery = q.Encode()
		u = &c
	}
	t0 := time.Now()
	body, n, err := v.fetchVia(ctx, v.plConn, u, true)
	v.stats.bytes += n
	if err != nil {
		return nil, err
	}
	v.stats.playlists++
	v.stats.plLatency = append(v.stats.plLatency, time.Since(t0))
	pl, err := parseMediaPlaylist(body)
	if err != nil {
		return nil, &playlistError{err: err}
	}
	return pl, nil
}

// resolve turns a playlist URI into an absolute URL, refusing other hosts
// unless remote load was allowed: the tool loads only what the user pointed at.
func (v *viewer) resolve(ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, &playlistError{err: fmt.Errorf("bad URI %q: %w", ref, err)}
	}
	u := v.playlistURL.ResolveReference(r)
	if !v.allowRemote && u.Host != v.playlistURL.Host {
		return nil, &remoteError{url: u.String()}
	}
	return u, nil
}

// get downloads u to the end of its body; the body is returned when keep is
// set. Every response byte counts in the viewer's bytes.
func (v *viewer) get(ctx context.Context, u *url.URL, keep bool) ([]byte, int64, error) {
	body, n, err := v.fetch(ctx, u, keep)
	v.stats.bytes += n
	return body, n, err
}

// fetch is get without the accounting: it reads only fields that never
// change, so another goroutine (a preload-hint request) may call it.
func (v *viewer) fetch(ctx context.Context, u *url.URL, keep bool) ([]byte, int64, error) {
	return v.fetchVia(ctx, v.mediaConn, u, keep)
}

// fetchVia is fetch on rc when it is set and goes to u's host, through the
// shared client otherwise.
func (v *viewer) fetchVia(ctx context.Context, rc *rawConn, u *url.URL, keep bool) ([]byte, int64, error) {
	if rc != nil && u.Host == rc.host && u.Scheme == "http" {
		var buf []byte
		if !keep {
			bp := v.bufs.Get().(*[]byte)
			defer v.bufs.Put(bp)
			buf = *bp
		}
		return rc.get(ctx, u, keep, buf, v.timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("X-Salon-Viewer", v.id)
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var body []byte
	var n int64
	if keep {
		body, n, err = readLimited(resp.Body)
	} else {
		n, err = v.discard(resp.Body)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, n, &statusError{code: resp.StatusCode, url: u.String()}
	}
	if err != nil {
		return nil, n, fmt.Errorf("read %s: %w", u, err)
	}
	return body, n, nil
}

// readLimited reads a playlist body, at most maxPlaylistBytes.
func readLimited(r io.Reader) ([]byte, int64, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxPlaylistBytes+1))
	n := int64(len(body))
	if err == nil && n > maxPlaylistBytes {
		err = fmt.Errorf("playlist larger than %d bytes", maxPlaylistBytes)
	}
	return body, n, err
}

// copyBufSize is the read size for segment bodies. Reads this large bypass the
// transport's 4 KiB bufio buffer and cut the load tool's syscalls eightfold
// against io.Discard's 8 KiB, which matters when the tool shares two cores
// with the server at several Gbit/s.
const copyBufSize = 64 << 10

// discard reads r to the end and returns the number of bytes read.
func (v *viewer) discard(r io.Reader) (int64, error) {
	bp := v.bufs.Get().(*[]byte)
	defer v.bufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

type statusError struct {
	code int
	url  string
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", e.url, e.code) }

type playlistError struct{ err error }

func (e *playlistError) Error() string { return "bad playlist: " + e.err.Error() }
func (e *playlistError) Unwrap() error { return e.err }

type remoteError struct{ url string }

func (e *remoteError) Error() string {
	return "refused " + e.url + ": not the host of -url (use -allow-remote)"
}

// errorKind is the key an error is counted under in Result.Errors.
func errorKind(err error) string {
	var se *statusError
	var pe *playlistError
	var re *remoteError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("http %d", se.code)
	case errors.As(err, &pe):
		return "bad playlist"
	case errors.As(err, &re):
		return "remote uri refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.EADDRNOTAVAIL):
		return "out of sockets"
	default:
		return "network"
	}
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
