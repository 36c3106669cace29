package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/salon/salon/captions"
)

// A talk's live caption track is made from the cues posted live while it
// ran, whose times are wall-clock times; the track counts from the cut's
// first segment. The cues are kept beside the track in their wall-clock
// times (CaptionLiveKey), so that when the recording window moves (the
// organiser trims the replay) the track is made again over the new cut:
// cues before In or after Out are dropped, the others shifted with the
// cut's start. A track a person uploaded is never re-timed.

// LiveCaption is a cue posted live, in wall-clock time.
type LiveCaption struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Text  string    `json:"text"`
}

// CaptionLiveKey holds the wall-clock cues a live caption track was made
// from (JSON), read again when the recording window moves.
func CaptionLiveKey(id, lang string) string {
	return "talks/" + id + "/captions/" + lang + ".live.json"
}

// liveCaptionsFile is CaptionLiveKey's content.
type liveCaptionsFile struct {
	Lang string        `json:"lang"`
	Cues []LiveCaption `json:"cues"`
}

// maxLiveCaptionsFile bounds CaptionLiveKey when read back (untrusted).
const maxLiveCaptionsFile = 8 << 20

// SaveLiveCaptions archives the cues posted live during a talk as its
// caption track in lang, unless one was uploaded: their wall-clock times are
// mapped onto the replay through its EXT-X-PROGRAM-DATE-TIMEs (as the chat's
// are). Cues outside the recording are left out of the track; all of live
// is kept in CaptionLiveKey for a later change of the window. Repeating it
// writes the same files.
func (l *Library) SaveLiveCaptions(ctx context.Context, id, lang string, live []LiveCaption) error {
	t, err := l.Get(id)
	if err != nil {
		return err
	}
	if t.DoNotRecord || t.Recording == nil || len(live) == 0 {
		return nil
	}
	sel, err := l.Selection(ctx, id)
	if err != nil {
		return err
	}
	cues := liveCues(t, &sel, live)
	if len(cues) == 0 {
		return nil
	}
	data, err := json.Marshal(liveCaptionsFile{Lang: lang, Cues: live})
	if err != nil {
		return err
	}
	// The wall-clock cues first: a track listed as live always has them.
	if err := putBytes(ctx, l.Store, CaptionLiveKey(id, lang), data); err != nil {
		return fmt.Errorf("store the %s live captions of talk %q: %w", lang, id, err)
	}
	_, err = l.PutCaptions(ctx, id, CaptionTrack{Lang: lang, Cues: cues, Source: CaptionLive, KeepUpload: true})
	return err
}

// liveCues maps the live cues that start inside t's recording window onto
// the cut sel (media time from its first segment), in order.
func liveCues(t Talk, sel *Selection, live []LiveCaption) []captions.Cue {
	cues := make([]captions.Cue, 0, len(live))
	for _, c := range live {
		if c.Start.Before(t.Recording.Start) || (t.Recording.End != nil && !c.Start.Before(*t.Recording.End)) {
			continue
		}
		end := c.End
		if t.Recording.End != nil && end.After(*t.Recording.End) {
			end = *t.Recording.End
		}
		s, e := sel.MediaTime(c.Start), sel.MediaTime(end)
		if e <= s {
			continue // fell in a gap of the recording
		}
		cues = append(cues, captions.Cue{Start: s, End: e, Text: c.Text})
	}
	captions.Sort(cues)
	return cues
}

// retimeLiveCaptions makes t's live caption tracks again over its new
// recording window (Update, when the window moved), updating t.Captions;
// writeMu held. A track archived before its wall-clock cues were kept is
// left as it is, with a log line.
func (l *Library) retimeLiveCaptions(ctx context.Context, t *Talk) error {
	if t.DoNotRecord || t.Recording == nil {
		return nil
	}
	var sel *Selection
	for i, c := range t.Captions {
		if c.Source != CaptionLive {
			continue
		}
		live, err := l.readLiveCaptions(ctx, t.ID, c.Lang)
		if errors.Is(err, ErrNotFound) {
			l.Log.Warn("live captions not re-timed to the new recording window: their wall-clock cues are not in the archive (archived by an older salon)", "talk", t.ID, "lang", c.Lang)
			continue
		}
		if err != nil {
			return err
		}
		if sel == nil {
			s, err := Select(ctx, l.Store, *t)
			if err != nil {
				return err
			}
			sel = &s
		}
		cues := liveCues(*t, sel, live)
		data := captions.Write(cues)
		// What the bucket held is checked as an upload is: text that does
		// not read back as WebVTT is refused, never published.
		if _, _, err := captions.Parse(data, captions.Limits{MaxBytes: captions.DefaultMaxBytes * 2}); err != nil && len(cues) > 0 {
			return fmt.Errorf("the %s live captions of talk %q in the archive do not make a caption track: %w; delete the track and upload one", c.Lang, t.ID, err)
		}
		if err := putBytes(ctx, l.Store, CaptionKey(t.ID, c.Lang), data); err != nil {
			return fmt.Errorf("store the re-timed %s captions of talk %q: %w", c.Lang, t.ID, err)
		}
		t.Captions[i].Cues, t.Captions[i].Size, t.Captions[i].UpdatedAt = len(cues), int64(len(data)), l.Now().UTC()
		l.Log.Info("live captions re-timed to the recording window", "talk", t.ID, "lang", c.Lang, "cues", len(cues))
	}
	return nil
}

// readLiveCaptions reads CaptionLiveKey (untrusted: bounded, checked).
func (l *Library) readLiveCaptions(ctx context.Context, id, lang string) ([]LiveCaption, error) {
	rc, _, err := l.Store.Get(ctx, CaptionLiveKey(id, lang), 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxLiveCaptionsFile+1))
	if err != nil {
		return nil, fmt.Errorf("read the %s live captions of talk %q: %w", lang, id, err)
	}
	if len(data) > maxLiveCaptionsFile {
		return nil, fmt.Errorf("the %s live captions of talk %q are over %d bytes: %w", lang, id, maxLiveCaptionsFile, ErrInvalid)
	}
	var f liveCaptionsFile
	if err := json.Unmarshal(data, &f); err != nil || f.Lang != lang {
		return nil, fmt.Errorf("the %s live captions of talk %q do not read (%v): %w", lang, id, err, ErrInvalid)
	}
	return f.Cues, nil
}
