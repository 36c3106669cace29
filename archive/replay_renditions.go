package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/salon/salon/hls"
	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/ingest/stream"
)

// A stage with renditions (publishes to live/{stage}/{rendition}) records
// each of them below stages/{stage}/{rendition}/{run}/. A talk's replay
// keeps them all:
//
//	talks/{id}/index.m3u8            the source's cut, as before — or, when a
//	                                 rendition has segments in the talk's
//	                                 window, a multivariant playlist over:
//	talks/{id}/index-source.m3u8     the source's cut
//	talks/{id}/index-{rendition}.m3u8  each rendition's cut
//
// Every cut sits in talks/{id}/, so its relative URIs (../../stages/…) are the
// same as the source's. The MP4 download, the trim player and the chat's
// media times use the source's selection: the best rendition.

// renditionCutKey is the key of one rendition's cut of a talk.
func renditionCutKey(id, rendition string) string {
	return "talks/" + id + "/index-" + stream.RenditionName(rendition) + ".m3u8"
}

// isRenditionDir tells whether a name below stages/{stage}/ is a rendition's
// directory rather than a run's (run names are times, 20190421T013000Z, with
// upper-case letters a rendition name cannot have).
func isRenditionDir(name string) bool { return stream.ValidRendition(name) }

// renditionsOf lists the renditions recorded for a stage.
func renditionsOf(ctx context.Context, store Store, stage string) ([]string, error) {
	prefix := "stages/" + stage + "/"
	var names []string
	if dl, ok := store.(DirLister); ok {
		dirs, err := dl.ListDirs(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("list the renditions of stage %s: %w", stage, err)
		}
		names = dirs
	} else {
		objs, err := store.List(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("list the renditions of stage %s: %w", stage, err)
		}
		for _, o := range objs {
			if name, _, ok := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/"); ok && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !isRenditionDir(n) })
	slices.Sort(names)
	return names, nil
}

// writeReplay writes the talk's replay from the source's selection sel and
// the stage's renditions, and tells whether every playlist it wrote is final.
func (l *Library) writeReplay(ctx context.Context, t Talk, sel *Selection) (final bool, err error) {
	var variants []playlist.Variant
	final = sel.Final
	if len(sel.Parts) > 0 {
		renditions, err := renditionsOf(ctx, l.Store, t.Stage)
		if err != nil {
			return false, err
		}
		type cut struct {
			key string
			sel Selection
		}
		var cuts []cut
		for _, r := range renditions {
			rs, err := selectDir(ctx, l.Store, t, t.Stage+"/"+r)
			if err != nil {
				return false, err
			}
			if len(rs.Parts) == 0 {
				continue
			}
			v, err := l.replayVariant(ctx, &rs, path.Base(renditionCutKey(t.ID, r)))
			if err != nil {
				l.Log.Warn("rendition left out of the replay: its recording cannot be described", "talk", t.ID, "rendition", r, "error", err)
				continue
			}
			cuts = append(cuts, cut{renditionCutKey(t.ID, r), rs})
			variants = append(variants, v)
		}
		if len(variants) > 0 || len(t.Captions) > 0 {
			src, err := l.replayVariant(ctx, sel, path.Base(renditionCutKey(t.ID, "")))
			if err != nil {
				l.Log.Warn("replay without its renditions: the source's recording cannot be described", "talk", t.ID, "error", err)
				variants = nil
			} else {
				slices.SortStableFunc(variants, func(a, b playlist.Variant) int { return int(b.Bandwidth - a.Bandwidth) })
				variants = append([]playlist.Variant{src}, variants...)
				cuts = append(cuts, cut{renditionCutKey(t.ID, ""), *sel})
				for _, c := range cuts {
					pl, err := c.sel.Playlist()
					if err != nil {
						return false, err
					}
					if err := l.putCut(ctx, t.ID, c.key, pl); err != nil {
						return false, err
					}
					final = final && c.sel.Final
				}
			}
		}
	}
	body, err := sel.Playlist()
	if err != nil {
		return false, err
	}
	if len(variants) > 1 || (len(variants) == 1 && len(t.Captions) > 0) {
		subs, err := l.writeCaptionPlaylists(ctx, t, sel)
		if err != nil {
			return false, err
		}
		if body, err = hls.RenderMultivariantSubs(variants, subs); err != nil {
			return false, err
		}
	}
	if err := l.putReplay(ctx, t.ID, body); err != nil {
		return false, err
	}
	return final, nil
}

// bandwidthSamples is how many segments of a cut are measured for its
// BANDWIDTH: a HEAD each, whatever the talk's length (listing the runs
// would cost a request per 1,000 segments on every re-cut of a live talk).
const bandwidthSamples = 8

// replayVariant describes one cut for the multivariant playlist: codecs and
// resolution from its first init segment, BANDWIDTH (peak) and
// AVERAGE-BANDWIDTH from the sizes of up to bandwidthSamples of its
// segments, spread over the cut.
func (l *Library) replayVariant(ctx context.Context, sel *Selection, uri string) (playlist.Variant, error) {
	v := playlist.Variant{URI: uri}
	init, err := readSmall(ctx, l.Store, sel.Parts[0].Init, 4<<20)
	if err != nil {
		return v, fmt.Errorf("read %s: %w", sel.Parts[0].Init, err)
	}
	if err := hls.DescribeInit(&v, init); err != nil {
		return v, fmt.Errorf("%s: %w", sel.Parts[0].Init, err)
	}
	var segs []CutSegment
	for _, p := range sel.Parts {
		segs = append(segs, p.Segments...)
	}
	n := min(len(segs), bandwidthSamples)
	var bits float64
	var dur time.Duration
	for i := range n {
		seg := segs[i*len(segs)/n]
		if i == n-1 {
			seg = segs[len(segs)-1]
		}
		info, err := l.Store.Stat(ctx, seg.Key)
		if err != nil || seg.Duration <= 0 {
			continue // not stored yet: the next re-cut measures it
		}
		v.Bandwidth = max(v.Bandwidth, int(float64(info.Size*8)/seg.Duration.Seconds()))
		bits += float64(info.Size * 8)
		dur += seg.Duration
	}
	if dur <= 0 {
		return v, errors.New("no stored segment to measure its bandwidth")
	}
	v.AverageBandwidth = int(bits / dur.Seconds())
	return v, nil
}

// isMultivariant tells whether a playlist is a multivariant one.
func isMultivariant(data []byte) bool { return playlist.IsMultivariant(data) }

// variantsFinal tells whether every cut a multivariant replay lists is
// final (ends with EXT-X-ENDLIST).
func (l *Library) variantsFinal(ctx context.Context, id string, data []byte) bool {
	mv, err := playlist.ParseMultivariant(data)
	if err != nil {
		return false
	}
	for _, v := range mv.Variants {
		if strings.Contains(v.URI, "/") || !strings.HasSuffix(v.URI, ".m3u8") {
			return false // not a replay salon wrote
		}
		cut, err := readSmall(ctx, l.Store, "talks/"+id+"/"+v.URI, maxRunPlaylistSize)
		if err != nil || !bytes.Contains(cut, []byte("\n#EXT-X-ENDLIST")) {
			return false
		}
	}
	return len(mv.Variants) > 0
}

// deleteRenditionCuts removes a talk's rendition cuts (index-*.m3u8).
func (l *Library) deleteRenditionCuts(ctx context.Context, id string) error {
	prefix := "talks/" + id + "/index-"
	objs, err := l.Store.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".m3u8") && !strings.Contains(strings.TrimPrefix(o.Key, prefix), "/") {
			if err := l.Store.Delete(ctx, o.Key); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return nil
}
