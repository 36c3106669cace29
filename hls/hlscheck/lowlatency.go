package hlscheck

import (
	"errors"
	"fmt"
	"time"

	"github.com/salon/salon/hls/playlist"
)

// partFloor is the share of PART-TARGET a part must last at least, unless it
// is exempt (RFC 8216bis §4.4.4.9).
const partFloor = 0.85

// checkLowLatency checks the Low-Latency rules of RFC 8216bis that one
// playlist can show. Blocking reloads and delta updates against the full
// playlist need a server and are checked elsewhere.
//
//   - Parts (EXT-X-PART, or a preload hint of a part) need EXT-X-PART-INF,
//     and EXT-X-SERVER-CONTROL with PART-HOLD-BACK of at least twice
//     PART-TARGET (three times is recommended: a warning).
//   - Every part lasts at most PART-TARGET; at least 85 % of it unless it is
//     INDEPENDENT=YES, a GAP or followed by one, or the last part of its
//     segment (the last part listed after the last segment may become one).
//   - With EXT-X-INDEPENDENT-SEGMENTS, a segment's first part starts it, so
//     it starts with a keyframe: INDEPENDENT=YES.
//   - EXT-X-PRELOAD-HINT comes after the last part (the parser reports the
//     order) and not in a playlist with EXT-X-ENDLIST.
//   - CAN-SKIP-UNTIL is at least six target durations, HOLD-BACK at least
//     three.
//   - EXT-X-SKIP needs CAN-SKIP-UNTIL and EXT-X-VERSION 9, and skips only
//     segments that start more than CAN-SKIP-UNTIL before the end: what is
//     listed plus one target duration reaches back to the skip boundary.
func checkLowLatency(p *Playlist) error {
	m := p.Media
	target := m.TargetDuration
	hasParts := len(m.Parts) > 0 || (m.PreloadHint != nil && m.PreloadHint.Type == playlist.HintPart)
	for _, s := range m.Segments {
		hasParts = hasParts || len(s.Parts) > 0
	}
	sc := m.ServerControl
	if sc != nil {
		if sc.CanSkipUntil > 0 && sc.CanSkipUntil < 6*target {
			return fmt.Errorf("CAN-SKIP-UNTIL=%.3f is less than six target durations (%s) (RFC 8216bis, EXT-X-SERVER-CONTROL)",
				sc.CanSkipUntil.Seconds(), 6*target)
		}
		if sc.HoldBack > 0 && sc.HoldBack < 3*target {
			return fmt.Errorf("HOLD-BACK=%.3f is less than three target durations (%s) (RFC 8216bis, EXT-X-SERVER-CONTROL)",
				sc.HoldBack.Seconds(), 3*target)
		}
	}
	if hasParts {
		if m.PartTarget == 0 {
			return errors.New("the playlist has parts but no #EXT-X-PART-INF (RFC 8216bis, EXT-X-PART-INF)")
		}
		if sc == nil || sc.PartHoldBack == 0 {
			return errors.New("the playlist has parts but no PART-HOLD-BACK in #EXT-X-SERVER-CONTROL (RFC 8216bis, EXT-X-SERVER-CONTROL)")
		}
	}
	if m.PartTarget > 0 && sc != nil && sc.PartHoldBack > 0 {
		switch {
		case sc.PartHoldBack < 2*m.PartTarget:
			return fmt.Errorf("PART-HOLD-BACK=%.3f is less than twice PART-TARGET=%.3f (RFC 8216bis, EXT-X-SERVER-CONTROL)",
				sc.PartHoldBack.Seconds(), m.PartTarget.Seconds())
		case sc.PartHoldBack < 3*m.PartTarget:
			p.Warnings = append(p.Warnings, fmt.Sprintf("PART-HOLD-BACK=%.3f is less than the recommended three times PART-TARGET=%.3f",
				sc.PartHoldBack.Seconds(), m.PartTarget.Seconds()))
		}
	}
	for _, s := range m.Segments {
		if err := checkParts(m, s.Parts, "segment "+s.URI); err != nil {
			return err
		}
	}
	if err := checkParts(m, m.Parts, "the segment in progress"); err != nil {
		return err
	}
	if m.PreloadHint != nil && m.Ended {
		return errors.New("#EXT-X-PRELOAD-HINT in a playlist with #EXT-X-ENDLIST: nothing more will come")
	}
	if m.Skipped > 0 {
		if sc == nil || sc.CanSkipUntil == 0 {
			return errors.New("#EXT-X-SKIP in a playlist without CAN-SKIP-UNTIL (RFC 8216bis, EXT-X-SKIP)")
		}
		if m.Version < 9 {
			return fmt.Errorf("#EXT-X-SKIP needs EXT-X-VERSION 9 or more, the playlist says %d (RFC 8216bis, protocol version compatibility)", m.Version)
		}
		var listed time.Duration
		for _, s := range m.Segments {
			listed += s.Duration
		}
		if listed+target < sc.CanSkipUntil {
			return fmt.Errorf("%d segments skipped, but the %.3fs listed do not reach back to the skip boundary CAN-SKIP-UNTIL=%.3f: "+
				"segments within it must be listed (RFC 8216bis, Playlist Delta Updates)", m.Skipped, listed.Seconds(), sc.CanSkipUntil.Seconds())
		}
	}
	return nil
}

// checkParts checks the parts of one segment. The last part is exempt from
// the floor, also in the segment in progress: it may turn out to be the
// segment's last.
func checkParts(m *playlist.Media, parts []playlist.Part, what string) error {
	for i, part := range parts {
		if part.Duration > m.PartTarget {
			return fmt.Errorf("%s: part %q lasts %.3fs, more than PART-TARGET=%.3f (RFC 8216bis §4.4.4.9)",
				what, part.URI, part.Duration.Seconds(), m.PartTarget.Seconds())
		}
		last := i == len(parts)-1
		exempt := part.Independent || part.Gap || last || (i+1 < len(parts) && parts[i+1].Gap)
		if !exempt && float64(part.Duration) < partFloor*float64(m.PartTarget) {
			return fmt.Errorf("%s: part %q lasts %.3fs, less than 85%% of PART-TARGET=%.3f (RFC 8216bis §4.4.4.9)",
				what, part.URI, part.Duration.Seconds(), m.PartTarget.Seconds())
		}
		if i == 0 && m.IndependentSegments && !part.Independent {
			return fmt.Errorf("%s: its first part %q is not INDEPENDENT=YES, but the playlist says EXT-X-INDEPENDENT-SEGMENTS", what, part.URI)
		}
	}
	return nil
}
