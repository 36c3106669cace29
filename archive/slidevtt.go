package archive

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// SlideChange is one page change of a talk's slides, as the presenter made
// it: wall-clock time, and the page shown from then on (1-based).
type SlideChange struct {
	At   time.Time `json:"at"`
	Page int       `json:"page"`
}

// MaxSlideChanges bounds a talk's recorded page changes (one a second for
// over two hours); talk.json read back from the bucket is untrusted.
const MaxSlideChanges = 10000

// MaxSlidePage bounds a recorded page number.
const MaxSlidePage = 100000

// SlidesVTTKey is the key of a talk's slide track.
func SlidesVTTKey(id string) string { return "talks/" + id + "/slides.vtt" }

// SlidesVTT renders a talk's page changes as a WebVTT track over its replay:
// one cue per page shown, from the change's position in the video
// (Selection.MediaTime) to the next change's, the last one to the end. The
// cue text is "Slide N", so any player that shows chapters or metadata
// tracks can use it; salon's replay page reads N from it. Changes made
// before the recording starts collapse into the first cue; cues that would
// last no time, and pages below 1, are left out.
func SlidesVTT(sel *Selection, changes []SlideChange) []byte {
	cs := slices.DeleteFunc(slices.Clone(changes), func(c SlideChange) bool { return c.Page < 1 })
	slices.SortStableFunc(cs, func(a, b SlideChange) int { return a.At.Compare(b.At) })
	end := sel.Duration()
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	n := 0
	for i, c := range cs {
		start := sel.MediaTime(c.At)
		stop := end
		if i+1 < len(cs) {
			stop = sel.MediaTime(cs[i+1].At)
		}
		if stop <= start {
			continue
		}
		n++
		fmt.Fprintf(&b, "\n%d\n%s --> %s\nSlide %d\n", n, VTTTime(start), VTTTime(stop), c.Page)
	}
	return b.Bytes()
}

// VTTTime writes d as a WebVTT timestamp, hh:mm:ss.ttt (the slide track,
// the chapters and web's chat track).
func VTTTime(d time.Duration) string {
	d = d.Round(time.Millisecond)
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	d -= s * time.Second
	return fmt.Sprintf("%02d:%02d:%02d.%03d", h, m, s, d/time.Millisecond)
}

// writeSlidesVTT renders t's slide track over sel, when t has page changes.
func (l *Library) writeSlidesVTT(ctx context.Context, t Talk, sel *Selection) error {
	if len(t.SlideChanges) == 0 {
		return nil
	}
	if err := l.putCut(ctx, t.ID, SlidesVTTKey(t.ID), SlidesVTT(sel, t.SlideChanges)); err != nil {
		return fmt.Errorf("its slide track is not written: %w", err)
	}
	return nil
}

// SaveSlideChanges records the presenter's page changes of talk id (the
// whole list, replacing what was there) in its talk.json and renders
// talks/{id}/slides.vtt over its replay. Pages below 1 are dropped.
func (l *Library) SaveSlideChanges(ctx context.Context, id string, changes []SlideChange) (Talk, error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return retrying(ctx, l, func() (Talk, error) { return l.saveSlideChanges(ctx, id, changes) })
}

// saveSlideChanges is SaveSlideChanges, writeMu held.

func (l *Library) saveSlideChanges(ctx context.Context, id string, changes []SlideChange) (Talk, error) {
	old, err := l.current(id)
	if err != nil {
		return Talk{}, err
	}
	t := old.clone()
	t.SlideChanges = slices.DeleteFunc(slices.Clone(changes), func(c SlideChange) bool { return c.Page < 1 })
	t = normalize(t)
	if err := t.Validate(); err != nil {
		return Talk{}, err
	}
	return l.save(ctx, t, t.Recording != nil)
}
