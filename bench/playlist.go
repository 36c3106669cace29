package bench

import (
	"errors"
	"math"
	"time"

	"github.com/salon/salon/hls/playlist"
)

// mediaPlaylist is a media playlist as the load tool's viewer follows it,
// read by hls/playlist.
type mediaPlaylist struct {
	*playlist.Media
}

// firstSeq is the media sequence number of the first listed segment.
func (p *mediaPlaylist) firstSeq() uint64 { return p.MediaSequence + p.Skipped }

// lastSeq is the media sequence number of the last segment; ok is false when
// the playlist has no segment yet.
func (p *mediaPlaylist) lastSeq() (seq uint64, ok bool) {
	if len(p.Segments) == 0 {
		return 0, false
	}
	return p.firstSeq() + uint64(len(p.Segments)) - 1, true
}

// segment returns the segment with media sequence number seq, which must be
// listed.
func (p *mediaPlaylist) segment(seq uint64) *playlist.Segment {
	return &p.Segments[seq-p.firstSeq()]
}

// liveStartSeq is where a player joins the live stream: like hls.js
// (liveSyncDurationCount = 3), three target durations of media before the end
// of the playlist, clamped to the first segment.
func (p *mediaPlaylist) liveStartSeq() uint64 {
	back := 3 * p.TargetDuration
	i := len(p.Segments)
	var sum time.Duration
	for i > 0 && sum < back {
		i--
		sum += p.Segments[i].Duration
	}
	return p.firstSeq() + uint64(i)
}

// maxTargetDuration bounds EXT-X-TARGETDURATION so a hostile or broken
// playlist cannot make a viewer sleep past the end of the run.
const maxTargetDuration = time.Hour

// parseMediaPlaylist reads a media playlist with hls/playlist's parser (which
// refuses multivariant playlists and byte-range segments, neither of which a
// viewer of salon can play) and refuses a playlist without
// EXT-X-TARGETDURATION or with one over an hour.
func parseMediaPlaylist(b []byte) (*mediaPlaylist, error) {
	if len(b) == 0 {
		return nil, errors.New("empty playlist")
	}
	m, err := playlist.ParseMedia(b)
	if err != nil {
		if playlist.IsMultivariant(b) {
			return nil, errors.New("this is a multivariant playlist: give one rendition's media playlist URL (…/live/{stage}/source/index.m3u8 for a stage with renditions)")
		}
		return nil, err
	}
	switch {
	case m.TargetDuration == 0:
		return nil, errors.New("media playlist has no EXT-X-TARGETDURATION")
	case m.TargetDuration > maxTargetDuration:
		return nil, errors.New("EXT-X-TARGETDURATION is over an hour")
	case uint64(len(m.Segments)) > math.MaxInt64-m.MediaSequence-m.Skipped:
		return nil, errors.New("EXT-X-MEDIA-SEQUENCE overflows")
	}
	return &mediaPlaylist{m}, nil
}
