package archive

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
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

// errNotPlaylist is returned by parseRunPlaylist for data that is not an
// M3U8 playlist at all.
var errNotPlaylist = errors.New("not an HLS playlist (no #EXTM3U)")

// parseRunPlaylist reads a run playlist. The bucket is untrusted, so it is
// lenient where a player would be (unknown tags are ignored, a segment with
// no EXT-X-PROGRAM-DATE-TIME follows the one before it) and strict where a
// cut could go wrong: segments with a URI that is not a plain file name in
// the run's directory, no usable start time, no EXT-X-MAP, or a duration
// outside 0–1 h are skipped and counted. It accepts the program date-time
// forms salon and ffmpeg write ("…Z", "…+00:00", "…+0000").
func parseRunPlaylist(data []byte) (runPlaylist, error) {
	var p runPlaylist
	if !bytes.HasPrefix(data, []byte("#EXTM3U")) {
		return p, errNotPlaylist
	}
	var (
		cur     runSegment
		haveInf bool
		curMap  string
		next    time.Time // start of the next segment when it has no PDT
		disc    bool
	)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '#' {
			name := string(line)
			ok := haveInf && validFileName(name) && validFileName(curMap)
			if cur.Start.IsZero() {
				cur.Start = next
			}
			ok = ok && !cur.Start.IsZero()
			if ok {
				cur.Name, cur.Init, cur.Discontinuity = name, curMap, disc
				p.Segments = append(p.Segments, cur)
				next = cur.end()
				disc = false
			} else {
				p.Skipped++
				next = time.Time{}
				disc = true // what follows does not continue what came before
			}
			cur, haveInf = runSegment{}, false
			continue
		}
		tag, value, _ := strings.Cut(string(line), ":")
		switch tag {
		case "#EXTINF":
			durStr, _, _ := strings.Cut(value, ",")
			d, err := strconv.ParseFloat(durStr, 64)
			haveInf = err == nil && d >= 0 && d <= maxSegmentDuration.Seconds() && !math.IsNaN(d)
			if haveInf {
				cur.Duration = time.Duration(math.Round(d*1e6)) * time.Microsecond
			}
		case "#EXT-X-PROGRAM-DATE-TIME":
			cur.Start = parsePDT(value)
		case "#EXT-X-MAP":
			curMap = mapURI(value)
		case "#EXT-X-DISCONTINUITY":
			disc = true
		case "#EXT-X-ENDLIST":
			p.Ended = true
		}
	}
	return p, nil
}

// parsePDT parses an EXT-X-PROGRAM-DATE-TIME value; the zero time when it
// is unusable.
func parsePDT(v string) time.Time {
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			if t.Year() < 1970 || t.Year() > 9000 {
				return time.Time{}
			}
			return t.UTC()
		}
	}
	return time.Time{}
}

// mapURI returns the URI attribute of an EXT-X-MAP value, "" when missing.
func mapURI(v string) string {
	i := strings.Index(v, `URI="`)
	if i < 0 || (i > 0 && v[i-1] != ',') {
		return ""
	}
	rest := v[i+len(`URI="`):]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return rest[:end]
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
