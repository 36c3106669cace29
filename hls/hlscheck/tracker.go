package hlscheck

import (
	"fmt"
)

// Tracker checks the successive reloads of one live media playlist
// (RFC 8216 §6.2.1, §6.2.2 and §6.3.2). The zero value is ready to use.
//
// Between two reloads it requires that the media sequence never decreases;
// that a segment keeps its sequence number, duration, init segment and
// program date time; that no segment disappears from the middle or the end;
// that EXT-X-DISCONTINUITY-SEQUENCE grows by exactly the number of
// discontinuities that slid out; that nothing changes after EXT-X-ENDLIST;
// and that the target duration never decreases. RFC 8216 asks for a constant
// target duration; salon lets it grow when a publisher's GOP is longer than
// the target, so the tracker accepts growth (every EXTINF still has to fit,
// which CheckMediaPlaylist checks).
type Tracker struct {
	last  *Playlist
	added []Segment
	n     int
}

// Next checks body, the next reload of the playlist.
func (t *Tracker) Next(body []byte) error {
	p, err := CheckMediaPlaylist(body)
	if err != nil {
		return err
	}
	t.n++
	prev := t.last
	if prev == nil {
		t.last, t.added = p, p.Segments
		return nil
	}
	if err := compare(prev, p); err != nil {
		return fmt.Errorf("reload %d: %w", t.n, err)
	}
	t.added = nil
	prevEnd := prev.end()
	for _, s := range p.Segments {
		if s.Seq >= prevEnd {
			t.added = append(t.added, s)
		}
	}
	t.last = p
	return nil
}

func compare(prev, p *Playlist) error {
	if prev.EndList {
		if string(fingerprint(prev)) != string(fingerprint(p)) {
			return fmt.Errorf("the playlist changed after #EXT-X-ENDLIST")
		}
	}
	if p.MediaSequence < prev.MediaSequence {
		return fmt.Errorf("media sequence went back from %d to %d", prev.MediaSequence, p.MediaSequence)
	}
	if p.TargetDuration < prev.TargetDuration {
		return fmt.Errorf("target duration went down from %d to %d", prev.TargetDuration, p.TargetDuration)
	}
	if p.DiscontinuitySequence < prev.DiscontinuitySequence {
		return fmt.Errorf("discontinuity sequence went back from %d to %d", prev.DiscontinuitySequence, p.DiscontinuitySequence)
	}
	prevEnd := prev.end()
	if p.MediaSequence <= prevEnd {
		// Every segment of prev from p.MediaSequence on must still be there.
		var slid uint64
		for _, s := range prev.Segments {
			if s.Seq < p.MediaSequence && s.Discontinuity {
				slid++
			}
		}
		if want := prev.DiscontinuitySequence + slid; p.DiscontinuitySequence != want {
			return fmt.Errorf("discontinuity sequence is %d, want %d (%d + %d discontinuities that slid out)",
				p.DiscontinuitySequence, want, prev.DiscontinuitySequence, slid)
		}
		if p.end() < prevEnd {
			return fmt.Errorf("segments disappeared from the end: had up to sequence %d, now up to %d",
				prevEnd-1, p.end()-1)
		}
	}
	bySeq := make(map[uint64]*Segment, len(prev.Segments))
	byURI := make(map[string]*Segment, len(prev.Segments))
	for i := range prev.Segments {
		s := &prev.Segments[i]
		bySeq[s.Seq] = s
		byURI[s.URI] = s
	}
	for _, s := range p.Segments {
		if o, ok := byURI[s.URI]; ok && o.Seq != s.Seq {
			return fmt.Errorf("segment %q moved from sequence %d to %d", s.URI, o.Seq, s.Seq)
		}
		o, ok := bySeq[s.Seq]
		if !ok {
			continue
		}
		switch {
		case o.URI != s.URI:
			return fmt.Errorf("sequence %d was %q and is now %q", s.Seq, o.URI, s.URI)
		case o.Duration != s.Duration:
			return fmt.Errorf("segment %q changed duration from %.3f to %.3f", s.URI, o.Duration, s.Duration)
		case o.Map != s.Map:
			return fmt.Errorf("segment %q changed init segment from %q to %q", s.URI, o.Map, s.Map)
		case !o.ProgramDateTime.Equal(s.ProgramDateTime):
			return fmt.Errorf("segment %q changed program date time", s.URI)
		case o.DiscontinuitySeq != s.DiscontinuitySeq:
			return fmt.Errorf("segment %q changed discontinuity sequence from %d to %d", s.URI, o.DiscontinuitySeq, s.DiscontinuitySeq)
		}
	}
	return nil
}

func fingerprint(p *Playlist) []byte {
	var b []byte
	b = fmt.Appendf(b, "%d %d %d %v|", p.MediaSequence, p.DiscontinuitySequence, p.TargetDuration, p.EndList)
	for _, s := range p.Segments {
		b = fmt.Appendf(b, "%s %v %s|", s.URI, s.Duration, s.Map)
	}
	return b
}

// Playlist returns the last playlist that passed Next, or nil.
func (t *Tracker) Playlist() *Playlist { return t.last }

// Added returns the segments that the last successful Next call saw for the
// first time (all of them on the first call), so callers can fetch them.
func (t *Tracker) Added() []Segment { return t.added }
