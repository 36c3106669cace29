package archive

import "time"

// MediaTime is where wall-clock time t falls in the talk's replay, counted
// as a player counts it: from the start of the replay playlist's first
// segment, through the segments' durations (the player's timeline has no
// gaps, even where the recording had one between two runs). Inside a segment
// it is that segment's position plus how far into the segment t is; in a gap
// between segments it is where the next segment starts; before the first
// segment it is 0 and after the last the replay's end.
//
// Chat messages and slide changes carry wall-clock times; this maps them
// onto the video, through the same EXT-X-PROGRAM-DATE-TIME values (rounded
// as Playlist writes them) that the replay playlist carries.
func (s *Selection) MediaTime(t time.Time) time.Duration {
	var pos time.Duration
	var prev time.Time
	for _, p := range s.Parts {
		for _, seg := range p.Segments {
			start := seg.Start.UTC().Round(time.Millisecond)
			if start.Before(prev) {
				start = prev // as Playlist: date-times never go back
			}
			prev = start
			d := seg.Duration.Round(time.Millisecond)
			if t.Before(start) {
				return pos // before the first segment, or in a gap
			}
			if in := t.Sub(start); in < d {
				return pos + in
			}
			pos += d
		}
	}
	return pos
}
