package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// session is one simulated viewer: it loads the URL it was given like a
// player does (following redirects: MediaMTX sends each new reader through
// a cookie check and then names its session in the playlist URIs), and plays
// the tracks that playlist names, one player per track, each in its own
// goroutine: a media playlist is one track (salon); a multivariant playlist
// gives its first variant and that variant's separate audio rendition
// (MediaMTX puts audio in its own playlist), see tracksOf.
//
// players is written by run and read by stats after run returned.
type session struct {
	b  *Viewers
	id string

	base    viewer // counts what loading the first playlist cost
	players []player
}

// player is one simulated player of one media playlist.
type player interface {
	run(ctx context.Context)
	viewerStats() *viewerStats
}

func (v *viewer) viewerStats() *viewerStats { return &v.stats }

func (s *session) run(ctx context.Context) {
	s.base = s.b.viewerOf(s.id, s.b.playlistURL)
	var tracks []*url.URL
	for ctx.Err() == nil {
		var err error
		if tracks, err = s.resolve(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		s.base.countError(err)
		if !sleepUntil(ctx, time.Now().Add(time.Second)) {
			return
		}
	}
	for _, t := range tracks {
		v := s.b.viewerOf(s.id, t)
		if s.b.Mode == ModeLL {
			if !s.b.NetHTTP && t.Scheme == "http" {
				v.plConn, v.mediaConn = newRawConn(t, s.id), newRawConn(t, s.id)
			}
			s.players = append(s.players, &llViewer{viewer: v, hints: s.b.Hints, skip: s.b.Skip})
		} else {
			s.players = append(s.players, &v)
		}
	}
	if len(s.players) == 1 {
		s.players[0].run(ctx)
		return
	}
	var wg sync.WaitGroup
	for _, p := range s.players {
		wg.Go(func() { p.run(ctx) })
	}
	wg.Wait()
}

// resolve loads the session's URL once and returns the media playlists to
// play, resolved against the URL the redirects ended at.
func (s *session) resolve(ctx context.Context) ([]*url.URL, error) {
	ctx, cancel := context.WithTimeout(ctx, s.b.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.b.playlistURL.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Salon-Viewer", s.id)
	resp, err := s.b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, n, err := readLimited(resp.Body)
	s.base.stats.bytes += n
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{code: resp.StatusCode, url: s.b.URL}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.b.URL, err)
	}
	s.base.stats.playlists++
	final := resp.Request.URL
	if !isMultivariant(body) {
		return []*url.URL{final}, nil
	}
	uris, err := tracksOf(body)
	if err != nil {
		return nil, &playlistError{err: err}
	}
	resolver := viewer{playlistURL: final, allowRemote: s.b.AllowRemote}
	var out []*url.URL
	for _, ref := range uris {
		u, err := resolver.resolve(ref)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// stats adds up the session's players: the viewer played when every track
// played; its startup is the slowest track's.
func (s *session) stats() *viewerStats {
	m := s.base.stats
	if len(s.players) == 0 {
		return &m
	}
	m.started = true
	for _, p := range s.players {
		st := p.viewerStats()
		m.playlists += st.playlists
		m.segments += st.segments
		m.initSegments += st.initSegments
		m.bytes += st.bytes
		m.stalls += st.stalls
		m.stallTime += st.stallTime
		m.missed += st.missed
		m.parts += st.parts
		m.hints += st.hints
		m.segLatency = append(m.segLatency, st.segLatency...)
		m.plLatency = append(m.plLatency, st.plLatency...)
		m.partLatency = append(m.partLatency, st.partLatency...)
		m.hintLatency = append(m.hintLatency, st.hintLatency...)
		for k, n := range st.errors {
			if m.errors == nil {
				m.errors = make(map[string]int64)
			}
			m.errors[k] += n
		}
		m.started = m.started && st.started
		m.startup = max(m.startup, st.startup)
	}
	return &m
}

// viewerOf is a player's common state for one media playlist.
func (b *Viewers) viewerOf(id string, track *url.URL) viewer {
	return viewer{
		id:          id,
		client:      b.client,
		playlistURL: track,
		allowRemote: b.AllowRemote,
		timeout:     b.Timeout,
		bufs:        b.bufs,
	}
}
