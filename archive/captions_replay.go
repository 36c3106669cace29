package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/salon/salon/captions"
	"github.com/salon/salon/hls"
	"github.com/salon/salon/hls/playlist"
)

// writeCaptionPlaylists writes a subtitle media playlist per caption track
// of t (talks/{id}/captions/{lang}.m3u8: the whole track as one WebVTT
// segment as long as the cut) and returns the SUBTITLES renditions that the
// replay's multivariant playlist lists; writeMu held.
//
// The segment is a copy of the track (CaptionHLSKey) with its cues moved
// onto the stored timeline, where the cut's first segment starts (its fMP4
// decode time), and an X-TIMESTAMP-MAP putting that start at its MPEG-TS
// time: hls.js and Safari follow the map, ffmpeg compares the cue times with
// the video's. When that start cannot be read, the playlist lists the track
// itself, without a map.
func (l *Library) writeCaptionPlaylists(ctx context.Context, t Talk, sel *Selection) ([]playlist.Rendition, error) {
	dur := sel.Duration()
	var start time.Time // the cut's first EXT-X-PROGRAM-DATE-TIME
	if len(sel.Parts) > 0 && len(sel.Parts[0].Segments) > 0 {
		start = sel.Parts[0].Segments[0].Start.UTC().Round(time.Millisecond)
	}
	origin, originErr := l.cutOrigin(ctx, sel)
	if originErr != nil {
		l.Log.Warn("replay captions without X-TIMESTAMP-MAP: the cut's first segment cannot be read", "talk", t.ID, "error", originErr)
	}
	langs := make([]string, 0, len(t.Captions))
	for _, c := range t.Captions {
		uri := path.Base(CaptionKey(t.ID, c.Lang))
		if originErr == nil {
			if err := l.writeCaptionHLS(ctx, t.ID, c, origin, dur); err != nil {
				return nil, err
			}
			uri = "hls/" + c.Lang + ".vtt"
		}
		m := playlist.Media{
			Type:     playlist.TypeEvent,
			Segments: []playlist.Segment{{URI: uri, Duration: dur, DateTime: start}},
		}
		if sel.Final {
			m.Type, m.Ended = playlist.TypeVOD, true
		}
		body, err := m.Marshal()
		if err != nil {
			return nil, err
		}
		if err := l.putCut(ctx, t.ID, CaptionPlaylistKey(t.ID, c.Lang), body); err != nil {
			return nil, err
		}
		langs = append(langs, c.Lang)
	}
	// URIs relative to talks/{id}/index.m3u8.
	return hls.Subtitles(langs, func(lang string) string { return "captions/" + lang + ".m3u8" }), nil
}

// writeCaptionHLS writes CaptionHLSKey for track c unless the copy there was
// made from the same track and origin (a re-cut of a live talk runs after
// every stored segment and changes neither).
func (l *Library) writeCaptionHLS(ctx context.Context, id string, c Caption, origin, dur time.Duration) error {
	key := CaptionHLSKey(id, c.Lang)
	stamp := fmt.Sprintf("%d|%s|%d|%d|%d", origin, c.UpdatedAt.Format(time.RFC3339Nano), c.Size, c.Cues, dur)
	if l.captionStamps[key] == stamp {
		return nil
	}
	rc, _, err := l.Store.Get(ctx, CaptionKey(id, c.Lang), 0, -1)
	if err != nil {
		return fmt.Errorf("read the %s captions of talk %q: %w", c.Lang, id, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, captions.DefaultMaxBytes*2))
	rc.Close()
	if err != nil {
		return fmt.Errorf("read the %s captions of talk %q: %w", c.Lang, id, err)
	}
	cues, _, err := captions.Parse(data, captions.Limits{MaxBytes: captions.DefaultMaxBytes * 2})
	if err != nil {
		return fmt.Errorf("the stored %s captions of talk %q do not read: %w", c.Lang, id, err)
	}
	for i := range cues {
		cues[i].Start += origin
		cues[i].End += origin
	}
	mpegts := uint64(origin) * 9 / 100_000 // 90 kHz
	if err := l.putCut(ctx, id, key, captions.AppendSegment(nil, cues, origin, max(dur, time.Millisecond), mpegts)); err != nil {
		return err
	}
	if l.captionStamps == nil {
		l.captionStamps = map[string]string{}
	}
	l.captionStamps[key] = stamp
	return nil
}

// cutOrigin is the start of the cut's first segment on the stored timeline
// (the earliest track's decode time), read from its init and media segment
// once per first segment.
func (l *Library) cutOrigin(ctx context.Context, sel *Selection) (time.Duration, error) {
	if len(sel.Parts) == 0 || len(sel.Parts[0].Segments) == 0 {
		return 0, fmt.Errorf("the cut is empty")
	}
	p := sel.Parts[0]
	first := p.Segments[0].Key
	if o, ok := l.origins[first]; ok {
		return o, nil
	}
	read := func(key string) ([]byte, error) {
		rc, _, err := l.Store.Get(ctx, key, 0, -1)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, 256<<20))
	}
	init, err := read(p.Init)
	if err != nil {
		return 0, err
	}
	seg, err := read(first)
	if err != nil {
		return 0, err
	}
	j := &MP4Joiner{Init: init}
	if err := j.Initialize(); err != nil {
		return 0, err
	}
	if err := j.Fragment(seg); err != nil {
		return 0, err
	}
	o, _ := j.Origin()
	if l.origins == nil || len(l.origins) > 1000 {
		l.origins = map[string]time.Duration{}
	}
	l.origins[first] = o
	return o, nil
}

// deleteCaptionCuts deletes what the replay made of the talk's captions
// (the subtitle playlists and their segments), keeping the tracks: a
// do_not_record talk has no replay.
func (l *Library) deleteCaptionCuts(ctx context.Context, id string) error {
	objs, err := l.Store.List(ctx, "talks/"+id+"/captions/")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if path.Ext(o.Key) == ".m3u8" || path.Base(path.Dir(o.Key)) == "hls" {
			if err := l.Store.Delete(ctx, o.Key); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			delete(l.captionStamps, o.Key)
		}
	}
	return nil
}
