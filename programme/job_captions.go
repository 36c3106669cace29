package programme

import (
	"context"
	"fmt"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/captions"
)

// liveCaptionSource holds the cues posted live on each stage;
// *captions.Live satisfies it.
type liveCaptionSource interface {
	// CatchUp waits until the source holds every cue posted so far (on a
	// cluster, those posted on other nodes too).
	CatchUp(ctx context.Context) error
	Langs(stage string) []string
	Span(stage, lang string, from, to time.Time) []captions.Timed
}

// captionArchive stores a talk's live cues as its caption track (unless one
// was uploaded); *archive.Library satisfies it.
type captionArchive interface {
	SaveLiveCaptions(ctx context.Context, id, lang string, cues []archive.LiveCaption) error
}

// archiveCaptions saves the cues posted live on the talk's stage during its
// recording window as talks/{id}/captions/{lang}.vtt, one per language.
// The live cues stay in their journal (or the cluster's log), so a failed
// attempt is simply done again. On a cluster the job may run on another
// node than the one the cues were posted on: it first waits until this
// node holds every cue posted so far.
func (p *Programme) archiveCaptions(ctx context.Context, t archive.Talk) error {
	if p.Captions == nil || p.CaptionTracks == nil || t.Recording == nil || t.Recording.End == nil {
		return nil
	}
	if err := p.Captions.CatchUp(ctx); err != nil {
		return err
	}
	for _, lang := range p.Captions.Langs(t.Stage) {
		timed := p.Captions.Span(t.Stage, lang, t.Recording.Start, *t.Recording.End)
		if len(timed) == 0 {
			continue
		}
		cues := make([]archive.LiveCaption, 0, len(timed))
		for _, c := range timed {
			// Kept as they showed; the library ends the track with the
			// window (and again if the window moves).
			cues = append(cues, archive.LiveCaption{Start: c.Start, End: c.End, Text: c.Text})
		}
		if err := p.CaptionTracks.SaveLiveCaptions(ctx, t.ID, lang, cues); err != nil {
			return fmt.Errorf("archive the talk's %s live captions: %w", lang, err)
		}
		p.Log.Info("talk live captions archived", "talk", t.ID, "lang", lang, "cues", len(cues))
	}
	return nil
}
