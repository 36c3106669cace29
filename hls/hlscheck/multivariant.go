package hlscheck

import (
	"fmt"
	"strings"

	"github.com/salon/salon/hls/playlist"
)

// CheckMultivariantPlaylist parses body with hls/playlist and checks it
// against RFC 8216 §4.3.4 and salon's contract (every variant says
// BANDWIDTH, CODECS and, when it has video, RESOLUTION):
//
//   - variant URIs are distinct, AVERAGE-BANDWIDTH is at most BANDWIDTH;
//   - an AUDIO or SUBTITLES group a variant names exists with that TYPE;
//   - in an EXT-X-MEDIA group, NAMEs are distinct; DEFAULT=YES comes with
//     AUTOSELECT=YES; SUBTITLES renditions have a URI, CLOSED-CAPTIONS none;
//     FORCED is only for SUBTITLES.
func CheckMultivariantPlaylist(body []byte) (*playlist.Multivariant, error) {
	m, err := playlist.ParseMultivariant(body)
	if err != nil {
		return nil, err
	}
	type groupKey struct{ typ, id string }
	groups := map[groupKey]map[string]bool{} // names per group
	for _, r := range m.Media {
		k := groupKey{r.Type, r.GroupID}
		if groups[k] == nil {
			groups[k] = map[string]bool{}
		}
		switch {
		case groups[k][r.Name]:
			return nil, fmt.Errorf("EXT-X-MEDIA group %s %q has two renditions named %q (RFC 8216 §4.3.4.1.1)", r.Type, r.GroupID, r.Name)
		case r.Default && !r.AutoSelect:
			return nil, fmt.Errorf("EXT-X-MEDIA %q is DEFAULT=YES without AUTOSELECT=YES (RFC 8216 §4.3.4.1)", r.Name)
		case r.Type == playlist.MediaSubtitles && r.URI == "":
			return nil, fmt.Errorf("SUBTITLES rendition %q has no URI (RFC 8216 §4.3.4.1)", r.Name)
		case r.Type == playlist.MediaClosedCaptions && r.URI != "":
			return nil, fmt.Errorf("CLOSED-CAPTIONS rendition %q has a URI (RFC 8216 §4.3.4.1)", r.Name)
		case r.Forced && r.Type != playlist.MediaSubtitles:
			return nil, fmt.Errorf("%s rendition %q says FORCED, which only SUBTITLES may (RFC 8216 §4.3.4.1)", r.Type, r.Name)
		}
		groups[k][r.Name] = true
	}
	uris := map[string]bool{}
	for _, v := range m.Variants {
		switch {
		case uris[v.URI]:
			return nil, fmt.Errorf("variant %q listed twice", v.URI)
		case v.AverageBandwidth > v.Bandwidth:
			return nil, fmt.Errorf("variant %q: AVERAGE-BANDWIDTH %d is more than BANDWIDTH %d", v.URI, v.AverageBandwidth, v.Bandwidth)
		case len(v.Codecs) == 0:
			return nil, fmt.Errorf("variant %q has no CODECS: players cannot tell whether they can play it", v.URI)
		case hasVideo(v.Codecs) && v.Width == 0:
			return nil, fmt.Errorf("variant %q has video (%s) but no RESOLUTION", v.URI, strings.Join(v.Codecs, ","))
		}
		uris[v.URI] = true
		for _, g := range [...]groupKey{{playlist.MediaAudio, v.Audio}, {playlist.MediaSubtitles, v.Subtitles}} {
			if g.id != "" && groups[g] == nil {
				return nil, fmt.Errorf("variant %q names %s group %q, which no EXT-X-MEDIA defines (RFC 8216 §4.3.4.2)", v.URI, g.typ, g.id)
			}
		}
	}
	return m, nil
}

// hasVideo reports whether an RFC 6381 codec list names a video codec salon
// can carry (H.264, H.265, AV1, VP9).
func hasVideo(codecs []string) bool {
	for _, c := range codecs {
		for _, p := range [...]string{"avc1", "avc3", "hvc1", "hev1", "av01", "vp09"} {
			if strings.HasPrefix(c, p) {
				return true
			}
		}
	}
	return false
}
