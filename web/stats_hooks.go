package web

import (
	"hash/maphash"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/salon/salon/archive"
)

// statsCounter counts how the day went; *stats.Counter satisfies it. Web
// reports to it off the hot path: live viewers as a sample of the viewer
// table every statsSampleEvery (a playlist fetch costs nothing more than
// before), replays and downloads once per request of a talk's replay
// playlist, slide file or MP4.
type statsCounter interface {
	Live(stages map[string][]uint64)
	fetchCounter // archive_window.go
	statsReader  // stats_api.go
}

// statsSampleEvery is how often the viewer table is sampled for the stats:
// under viewerWindow, so every viewer, who stays in the table for
// viewerWindow after their last fetch, is seen at least once.
const statsSampleEvery = 5 * time.Second

// runStatsSampler reports the viewer table to Stats until stop closes.
func (s *Server) runStatsSampler(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(statsSampleEvery)
	defer t.Stop()
	buf := map[string][]uint64{}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.viewers.sample(time.Now(), buf)
			s.Stats.Live(buf)
		}
	}
}

// sample fills out with the keys of every stage's viewers within the
// window at now, reusing out's slices; stages without viewers are removed.
func (v *viewers) sample(now time.Time, out map[string][]uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for stage := range out {
		if _, ok := v.seen[stage]; !ok {
			delete(out, stage)
		}
	}
	for stage, m := range v.seen {
		ks := out[stage][:0]
		for k, e := range m {
			if now.Sub(e.at) <= v.window {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			delete(out, stage)
			continue
		}
		out[stage] = ks
	}
}

// clientKey identifies a replay viewer or a downloader: address and
// User-Agent, keyed with the server's random seed. A client-chosen viewer id
// (X-Salon-Viewer) counts only from a shared network (-chat-shared-nets,
// many viewers behind one address): elsewhere one client could vary it to
// count many times, and the live count bounds it per address instead.
func (s *audience) clientKey(r *http.Request) uint64 {
	if a := remoteAddr(r.RemoteAddr); a.IsValid() && shared(s.sharedNets, a) {
		return viewerKey(s.seed, r)
	}
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(ip)
	h.WriteByte(0)
	h.WriteString("ua:")
	h.WriteString(r.UserAgent())
	return h.Sum64()
}

// countArchiveFetch reports a fetch of an archived object to Stats: a
// talk's replay playlist (a replay viewer, or a live viewer of the talk when
// it is live: the talk page plays the talk's playlist, rewindable, while it
// runs) or one of its slide files. Called once the object is known to exist.
func (s *archiveHandlers) countArchiveFetch(r *http.Request, key string) {
	if r.Method != http.MethodGet {
		return
	}
	rest, ok := strings.CutPrefix(key, "talks/")
	if !ok {
		return
	}
	id, file, ok := strings.Cut(rest, "/")
	if !ok || !archive.ValidTalkID(id) {
		return
	}
	switch {
	case file == "index.m3u8":
		if s.talks != nil {
			if t, err := s.talks.Get(id); err == nil && t.Live() {
				s.touchViewer(t.Stage, r)
				return
			}
		}
		if s.stats != nil {
			s.stats.Replay(id, s.clientKey(r))
		}
	case strings.HasPrefix(file, "slides/") && s.stats != nil:
		s.stats.SlideDownload(id, strings.TrimPrefix(file, "slides/"), s.clientKey(r))
	}
}
