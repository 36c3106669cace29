package archive

import (
	"strings"
	"time"

	"github.com/salon/salon/hls/playlist"
)

// runSegment is one media segment of a run playlist, as read back from the
// bucket. Names are single key segments in the run's directory.
type runSegment struct {
	Name          string
	Init          string // EXT-X-MAP URI
	Start         time.Time
	Duration      time.Duration
	Discontinuity bool // EXT-X-DISCONTINUITY before it
}

func (s *runSegment) end() time.Time { return s.Start.Add(s.Duration) }

// runPlaylist is a run's playlist (bucket contract) reduced to what a cut
// needs.
type runPlaylist struct {
	Segments []runSegment
	Ended    bool // EXT-X-ENDLIST: the run will not grow
	Skipped  int  // segments left out because a tag or URI was unusable
}

// maxRunPlaylistSize bounds what is read of one run playlist: three days of
// 2-second segments take about 10 MB.
const maxRunPlaylistSize = 64 << 20

// parseRunPlaylist reads a run playlist with hls/playlist's parser, which
// fails on a line it cannot read (the error names it). The bucket is
// untrusted, so on top of that it is strict where a cut could go wrong:
// segments with a URI that is not a plain file name in the run's directory,
// no usable start time, no EXT-X-MAP, or a duration over an hour are skipped
// and counted; a segment with no EXT-X-PROGRAM-DATE-TIME follows the one
// before it. Program date-times in the forms salon and ffmpeg write ("…Z",
// "…+00:00", "…+0000") are accepted.
func parseRunPlaylist(data []byte) (runPlaylist, error) {
	var p runPlaylist
	m, err := playlist.ParseMedia(data)
	if err != nil {
		return p, err
	}
	p.Ended = m.Ended
	var (
		next time.Time // start of the next segment when it has no PDT
		disc bool
	)
	for _, s := range m.Segments {
		disc = disc || s.Discontinuity
		cur := runSegment{Name: s.URI, Init: s.Map, Start: s.DateTime, Duration: s.Duration}
		if y := cur.Start.Year(); y < 1970 || y > 9000 {
			cur.Start = next
		}
		ok := validFileName(cur.Name) && validFileName(cur.Init) && !cur.Start.IsZero() && cur.Duration <= maxSegmentDuration
		if !ok {
			p.Skipped++
			next = time.Time{}
			disc = true // what follows does not continue what came before
			continue
		}
		cur.Discontinuity, disc = disc, false
		p.Segments = append(p.Segments, cur)
		next = cur.end()
	}
	return p, nil
}

// validFileName accepts a URI that names a file in the run's directory and
// is safe to write back unquoted in a playlist line or quoted in EXT-X-MAP.
func validFileName(name string) bool {
	if name == "" || len(name) > 255 || name == "." || name == ".." || strings.HasPrefix(name, tmpPrefix) {
		return false
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}
