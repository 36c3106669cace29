package hlscheck

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// CheckSubtitles checks a WebVTT subtitle media playlist against the video
// media playlist it accompanies (both already checked with
// CheckMediaPlaylist), as salon's live subtitle rendition promises: the
// subtitle playlist has no EXT-X-MAP and only .vtt segments, and every
// media sequence number the two share has the same EXTINF (within a
// millisecond), EXT-X-PROGRAM-DATE-TIME, discontinuity sequence and
// EXT-X-DISCONTINUITY: a player switching between renditions finds the
// cues of the segment it plays under the same number. At least one number
// must be shared (the two are fetched at different moments, so one may be a
// segment ahead of the other).
func CheckSubtitles(video, subs *Playlist) error {
	if video == nil || subs == nil {
		return errors.New("CheckSubtitles needs both playlists")
	}
	bySeq := make(map[uint64]Segment, len(video.Segments))
	for _, s := range video.Segments {
		bySeq[s.Seq] = s
	}
	shared := 0
	for _, s := range subs.Segments {
		if s.Map != "" {
			return fmt.Errorf("subtitle segment %s has an EXT-X-MAP (%s): WebVTT segments have none", s.URI, s.Map)
		}
		if !strings.HasSuffix(s.URI, ".vtt") {
			return fmt.Errorf("subtitle segment %s is not a .vtt file", s.URI)
		}
		v, ok := bySeq[s.Seq]
		if !ok {
			continue
		}
		shared++
		switch {
		case math.Abs(v.Duration-s.Duration) > 0.001:
			return fmt.Errorf("segment %d lasts %.3f s in the video and %.3f s in the subtitles", s.Seq, v.Duration, s.Duration)
		case !v.ProgramDateTime.Equal(s.ProgramDateTime):
			return fmt.Errorf("segment %d starts at %s in the video and %s in the subtitles", s.Seq, v.ProgramDateTime, s.ProgramDateTime)
		case v.DiscontinuitySeq != s.DiscontinuitySeq || v.Discontinuity != s.Discontinuity:
			return fmt.Errorf("segment %d: discontinuities differ between the video and the subtitles", s.Seq)
		}
	}
	if shared == 0 {
		return fmt.Errorf("the subtitle playlist (from %d) shares no media sequence number with the video's (from %d)", subs.MediaSequence, video.MediaSequence)
	}
	return nil
}
