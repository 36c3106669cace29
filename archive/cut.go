package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/ingest/stream"
)

// A talk's replay is a cut: a playlist over the segments of its stage's runs
// that overlap the talk's recording window. Nothing is copied; re-cutting
// rewrites one small playlist, talks/{id}/index.m3u8.

// CutSegment is one media segment a cut selects.
type CutSegment struct {
	Key      string    // "stages/{stage}/{run}/{seq}.m4s"
	Start    time.Time // EXT-X-PROGRAM-DATE-TIME
	Duration time.Duration
}

// CutPart is a stretch of segments that share one init segment and follow
// each other without a break: one run, or the part of a run between changes
// of its init segment. A player (or an MP4 writer) starts afresh at each part.
type CutPart struct {
	Run      string // the run's name, "20190421T013000Z"
	Init     string // key of the init segment, "stages/{stage}/{run}/init-0.mp4"
	Segments []CutSegment
}

// Selection is what a cut selects for a talk's recording window.
type Selection struct {
	Parts []CutPart
	// Offset is how far into the first segment the window starts (0 when the
	// first segment starts inside the window): EXT-X-START's TIME-OFFSET.
	Offset time.Duration
	// Final is true when the window has ended and the stored recording covers
	// its end (a segment reaches the end, or the last run ended): the replay
	// will not change unless the window does, and is written as VOD.
	Final bool
}

// Duration is the sum of the selected segments' durations.
func (s *Selection) Duration() time.Duration {
	var d time.Duration
	for _, p := range s.Parts {
		for _, seg := range p.Segments {
			d += seg.Duration
		}
	}
	return d
}

// runNameLayout is the form of run names (bucket contract): the publish
// start, UTC.
const runNameLayout = "20060102T150405Z"

// runSlack is how far a run's name (its publish start) may be off the
// date-times of its segments; runs are only skipped unread beyond it.
const runSlack = time.Minute

// TalkPlaylistKey is the key of a talk's replay playlist.
func TalkPlaylistKey(id string) string { return "talks/" + id + "/index.m3u8" }

// TalkKey is the key of a talk's metadata.
func TalkKey(id string) string { return "talks/" + id + "/talk.json" }

// Select reads the run playlists of talk.Stage and selects every segment
// whose [PDT, PDT+duration) overlaps the talk's recording window (open-ended
// while the talk is live). It reads the runs that can overlap the window: all
// runs named no later than the window's end, except runs followed by two
// later runs that started before the window did.
func Select(ctx context.Context, store Store, talk Talk) (Selection, error) {
	if !ValidTalkID(talk.ID) || !stream.ValidStage(talk.Stage) {
		return Selection{}, invalidf("cut talk %q on stage %q: bad id or stage", talk.ID, talk.Stage)
	}
	return selectDir(ctx, store, talk, talk.Stage)
}

// selectDir is Select over the runs below stages/{dir}/: the stage's own
// (the source) or stages/{stage}/{rendition}/ (pathDir).
func selectDir(ctx context.Context, store Store, talk Talk, dir string) (Selection, error) {
	var sel Selection
	w := talk.Recording
	if w == nil {
		return sel, fmt.Errorf("cut talk %q: it has not started, so there is nothing to cut: %w", talk.ID, ErrConflict)
	}
	runs, err := listRuns(ctx, store, dir)
	if err != nil {
		return sel, fmt.Errorf("cut talk %q: %w", talk.ID, err)
	}
	runs = relevantRuns(runs, w)
	var (
		lastEnded bool
		coverEnd  time.Time // the latest end of any stored segment read
	)
	for _, run := range runs {
		prefix := "stages/" + dir + "/" + run + "/"
		p, err := readRunPlaylist(ctx, store, prefix+"index.m3u8")
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // listed a moment ago and gone: the run was deleted
			}
			return sel, fmt.Errorf("cut talk %q: %w", talk.ID, err)
		}
		lastEnded = p.Ended
		var part *CutPart
		for i := range p.Segments {
			s := &p.Segments[i]
			if e := s.end(); e.After(coverEnd) {
				coverEnd = e
			}
			if !overlaps(s, w) {
				part = nil
				continue
			}
			if part == nil || s.Discontinuity || prefix+s.Init != part.Init {
				sel.Parts = append(sel.Parts, CutPart{Run: run, Init: prefix + s.Init})
				part = &sel.Parts[len(sel.Parts)-1]
			}
			part.Segments = append(part.Segments, CutSegment{Key: prefix + s.Name, Start: s.Start, Duration: s.Duration})
		}
	}
	if len(sel.Parts) > 0 {
		if off := w.Start.Sub(sel.Parts[0].Segments[0].Start); off > 0 {
			sel.Offset = off
		}
	}
	sel.Final = w.End != nil && len(runs) > 0 && (!coverEnd.Before(*w.End) || lastEnded)
	return sel, nil
}

// overlaps reports whether the segment [start, start+duration) overlaps the
// window [start, end). A zero-length segment overlaps when it lies inside.
func overlaps(s *runSegment, w *Window) bool {
	if w.End != nil && !s.Start.Before(*w.End) {
		return false
	}
	if s.Duration == 0 {
		return !s.Start.Before(w.Start)
	}
	return s.end().After(w.Start)
}

// DirLister is implemented by stores that can list the names of the
// "directories" right below a prefix ("stages/main/" → the run names) without
// listing every object below them: an S3 delimiter listing, one directory
// read. Select uses it when the store has it, so that finding a stage's runs
// costs one request however many segments they hold; otherwise it lists every
// object of the stage (about 30 ms for 3,600 segments on a DirStore).
type DirLister interface {
	// ListDirs returns the names (not keys) of the directories below
	// prefix, which ends with "/", sorted.
	ListDirs(ctx context.Context, prefix string) ([]string, error)
}

// listRuns returns the names of the runs below stages/{stage}/ (that have a
// playlist, unless the store is a DirLister), sorted: run names sort in time
// order. stage may be a pathDir; a stage's rendition directories are not runs.
func listRuns(ctx context.Context, store Store, stage string) ([]string, error) {
	prefix := "stages/" + stage + "/"
	if dl, ok := store.(DirLister); ok {
		names, err := dl.ListDirs(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("list the runs of stage %s: %w", stage, err)
		}
		runs := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !validFileName(n) || isRenditionDir(n) })
		slices.Sort(runs)
		return runs, nil
	}
	objs, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list the runs of stage %s: %w", stage, err)
	}
	var runs []string
	for _, o := range objs {
		run, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), "/index.m3u8")
		if ok && run != "" && !strings.Contains(run, "/") {
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// relevantRuns drops runs that cannot overlap w, judged by their names: runs
// that started after the window ended, and runs that started before the
// window and were followed by two more runs that did too (a stage has one
// publisher at a time, so a run is over when the next one starts; one extra
// run is kept for clock slack). Runs whose names are not times are kept.
func relevantRuns(runs []string, w *Window) []string {
	var before []string // timed runs that started before the window
	var out []string
	for _, r := range runs {
		t, err := time.Parse(runNameLayout, r)
		switch {
		case err != nil:
			out = append(out, r)
		case w.End != nil && t.After(w.End.Add(runSlack)):
		case !t.After(w.Start.Add(-runSlack)):
			before = append(before, r)
		default:
			out = append(out, r)
		}
	}
	if len(before) > 2 {
		before = before[len(before)-2:]
	}
	all := append(before, out...)
	slices.Sort(all) // run order, which the playlist keeps
	return all
}

func readRunPlaylist(ctx context.Context, store Store, key string) (runPlaylist, error) {
	rc, _, err := store.Get(ctx, key, 0, -1)
	if err != nil {
		return runPlaylist{}, fmt.Errorf("read run playlist: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxRunPlaylistSize+1))
	if err != nil {
		return runPlaylist{}, fmt.Errorf("read run playlist %s: %w", key, err)
	}
	if len(data) > maxRunPlaylistSize {
		return runPlaylist{}, fmt.Errorf("run playlist %s is larger than %d bytes; it is not one salon wrote", key, maxRunPlaylistSize)
	}
	p, err := parseRunPlaylist(data)
	if err != nil {
		return p, fmt.Errorf("run playlist %s: %w", key, err)
	}
	return p, nil
}

// Playlist renders the selection as the talk's replay playlist with
// hls/playlist: version 7, EVENT (or VOD with EXT-X-ENDLIST when Final),
// EXT-X-START at the window's start, EXT-X-DISCONTINUITY at every part and
// EXT-X-MAP where the init segment changes, a program date-time on every
// segment, and URIs relative to talks/{id}/ so that the playlist plays from
// any host that serves the bucket. It fails only for keys that cannot be
// written in a playlist, which Select never returns.
func (s *Selection) Playlist() ([]byte, error) {
	n := 0
	for _, p := range s.Parts {
		n += len(p.Segments)
	}
	pl := playlist.Media{
		Version:             7,
		Type:                playlist.TypeEvent,
		IndependentSegments: true,
		Segments:            make([]playlist.Segment, 0, n),
		Ended:               s.Final,
	}
	if s.Final {
		pl.Type = playlist.TypeVOD
	}
	if n > 0 {
		pl.Start = &playlist.Start{TimeOffset: s.Offset, Precise: true}
	}
	var prev time.Time
	for i, p := range s.Parts {
		initURI := "../../" + p.Init
		for j, seg := range p.Segments {
			// Date-times never go back within a playlist, even where two
			// runs' clocks overlap.
			start := seg.Start.UTC().Round(time.Millisecond)
			if start.Before(prev) {
				start = prev
			}
			prev = start
			pl.Segments = append(pl.Segments, playlist.Segment{
				URI:           "../../" + seg.Key,
				Duration:      seg.Duration,
				Map:           initURI,
				DateTime:      start,
				Discontinuity: i > 0 && j == 0,
			})
		}
	}
	b, err := pl.Append(make([]byte, 0, 256+n*110))
	if err != nil {
		return nil, fmt.Errorf("render the replay playlist: %w", err)
	}
	return b, nil
}

// Cut selects the talk's segments (Select), renders its replay playlist and
// writes it to talks/{id}/index.m3u8. No media is copied or touched.
func Cut(ctx context.Context, store Store, talk Talk) ([]byte, error) {
	sel, err := Select(ctx, store, talk)
	if err != nil {
		return nil, err
	}
	pl, err := sel.Playlist()
	if err != nil {
		return nil, fmt.Errorf("cut talk %q: %w", talk.ID, err)
	}
	if err := putBytes(ctx, store, TalkPlaylistKey(talk.ID), pl); err != nil {
		return nil, fmt.Errorf("cut talk %q: %w", talk.ID, err)
	}
	return pl, nil
}

func putBytes(ctx context.Context, store Store, key string, data []byte) error {
	if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ContentTypeFor(key)); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
