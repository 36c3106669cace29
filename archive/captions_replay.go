package archive

import (
	"context"
	"path"
	"time"

	"github.com/salon/salon/hls"
	"github.com/salon/salon/hls/playlist"
)

// writeCaptionPlaylists writes a subtitle media playlist per caption track
// of t (talks/{id}/captions/{lang}.m3u8: the whole track as one WebVTT
// segment as long as the cut) and returns the SUBTITLES renditions that the
// replay's multivariant playlist lists. The track's cue times count from the
// cut's first segment, as the player's timeline does.
func (l *Library) writeCaptionPlaylists(ctx context.Context, t Talk, sel *Selection) ([]playlist.Rendition, error) {
	dur := sel.Duration()
	var start time.Time // the cut's first EXT-X-PROGRAM-DATE-TIME
	if len(sel.Parts) > 0 && len(sel.Parts[0].Segments) > 0 {
		start = sel.Parts[0].Segments[0].Start.UTC().Round(time.Millisecond)
	}
	langs := make([]string, 0, len(t.Captions))
	for _, c := range t.Captions {
		m := playlist.Media{
			Type:     playlist.TypeEvent,
			Segments: []playlist.Segment{{URI: path.Base(CaptionKey(t.ID, c.Lang)), Duration: dur, DateTime: start}},
		}
		if sel.Final {
			m.Type, m.Ended = playlist.TypeVOD, true
		}
		body, err := m.Marshal()
		if err != nil {
			return nil, err
		}
		if err := putBytes(ctx, l.Store, CaptionPlaylistKey(t.ID, c.Lang), body); err != nil {
			return nil, err
		}
		langs = append(langs, c.Lang)
	}
	// URIs relative to talks/{id}/index.m3u8.
	return hls.Subtitles(langs, func(lang string) string { return "captions/" + lang + ".m3u8" }), nil
}
