package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/salon/salon/captions"
)

// Caption is one caption track of a talk, listed in talk.json and stored as
// talks/{id}/captions/{lang}.vtt (normalised WebVTT).
type Caption struct {
	Lang      string    `json:"lang"` // BCP 47, canonical (captions.CanonicalLang)
	Cues      int       `json:"cues"`
	Size      int64     `json:"size"`   // bytes of the stored file
	Source    string    `json:"source"` // CaptionUploaded or CaptionLive
	UpdatedAt time.Time `json:"updated_at"`
	// UploadedBy is UploadedBySpeaker or UploadedByOrganiser for an upload.
	UploadedBy string `json:"uploaded_by,omitempty"`
}

// Where a caption track came from (Caption.Source).
const (
	CaptionUploaded = "upload" // PUT /api/talks/{id}/captions/{lang}
	CaptionLive     = "live"   // the cues posted live, archived when the talk ended
)

// MaxCaptionTracks bounds the languages of one talk.
const MaxCaptionTracks = 20

// CaptionKey is the key of a talk's caption track in one language.
func CaptionKey(id, lang string) string { return "talks/" + id + "/captions/" + lang + ".vtt" }

// CaptionPlaylistKey is the key of the subtitle media playlist over
// CaptionKey that the replay's multivariant playlist lists.
func CaptionPlaylistKey(id, lang string) string {
	return "talks/" + id + "/captions/" + lang + ".m3u8"
}

// CaptionHLSKey is the copy of CaptionKey that the subtitle playlist
// lists: the same cues on the stored timeline, with an X-TIMESTAMP-MAP
// (captions_replay.go). Rewritten when the track or the cut's start changes.
func CaptionHLSKey(id, lang string) string { return "talks/" + id + "/captions/hls/" + lang + ".vtt" }

// validCaptions checks talk.json's captions (untrusted when read back).
func validCaptions(cs []Caption) error {
	if len(cs) > MaxCaptionTracks {
		return invalidf("captions: at most %d languages, not %d", MaxCaptionTracks, len(cs))
	}
	seen := map[string]bool{}
	for i, c := range cs {
		canon, err := captions.CanonicalLang(c.Lang)
		switch {
		case err != nil || canon != c.Lang:
			return invalidf("captions[%d].lang %q is not a canonical BCP 47 tag", i, truncateRunes(c.Lang, 40))
		case seen[c.Lang]:
			return invalidf("captions[%d].lang %q is listed twice", i, c.Lang)
		case c.Source != CaptionUploaded && c.Source != CaptionLive:
			return invalidf("captions[%d].source must be %s or %s", i, CaptionUploaded, CaptionLive)
		case c.Cues < 0 || c.Size < 0:
			return invalidf("captions[%d]: cues and size cannot be negative", i)
		}
		seen[c.Lang] = true
	}
	return nil
}

// CaptionTrack is what PutCaptions stores.
type CaptionTrack struct {
	Lang   string // canonical BCP 47
	Cues   []captions.Cue
	Source string // CaptionUploaded or CaptionLive
	By     string // UploadedBySpeaker or UploadedByOrganiser, for an upload
	// Check, when set, may refuse the change (a speaker's, after the talk).
	Check func(Talk) error
	// KeepUpload: do nothing when the talk has an uploaded track in Lang
	// (live cues never replace what a person uploaded).
	KeepUpload bool
}

// PutCaptions stores a caption track as talks/{id}/captions/{lang}.vtt,
// lists it in talk.json and re-cuts the replay, whose multivariant
// playlist lists the talk's captions as subtitle renditions. A
// do_not_record talk's live captions are never published.
func (l *Library) PutCaptions(ctx context.Context, id string, tr CaptionTrack) (Caption, error) {
	lang, err := captions.CanonicalLang(tr.Lang)
	if err != nil {
		return Caption{}, fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return retrying(ctx, l, func() (Caption, error) { return l.putCaptions(ctx, id, lang, tr) })
}

// putCaptions is PutCaptions, writeMu held.
func (l *Library) putCaptions(ctx context.Context, id, lang string, tr CaptionTrack) (Caption, error) {
	t, err := l.current(id)
	if err != nil {
		return Caption{}, err
	}
	if tr.Check != nil {
		if err := tr.Check(t); err != nil {
			return Caption{}, err
		}
	}
	i := slices.IndexFunc(t.Captions, func(c Caption) bool { return c.Lang == lang })
	if tr.Source == CaptionLive && t.DoNotRecord {
		return Caption{}, nil
	}
	if tr.KeepUpload && i >= 0 && t.Captions[i].Source == CaptionUploaded {
		return t.Captions[i], nil
	}
	if i < 0 && len(t.Captions) >= MaxCaptionTracks {
		return Caption{}, fmt.Errorf("talk %q has captions in %d languages already, the most it may have; delete one first: %w", id, MaxCaptionTracks, ErrConflict)
	}
	data := captions.Write(tr.Cues)
	if err := putBytes(ctx, l.Store, CaptionKey(id, lang), data); err != nil {
		return Caption{}, fmt.Errorf("store the %s captions of talk %q: %w", lang, id, err)
	}
	c := Caption{Lang: lang, Cues: len(tr.Cues), Size: int64(len(data)), Source: tr.Source, UpdatedAt: l.Now().UTC()}
	if tr.Source == CaptionUploaded {
		c.UploadedBy = tr.By
	}
	if i >= 0 {
		t.Captions[i] = c
	} else {
		t.Captions = append(t.Captions, c)
	}
	if _, err := l.save(ctx, t, t.Recording != nil); err != nil {
		return Caption{}, err
	}
	l.Log.Info("captions stored", "talk", id, "lang", lang, "cues", c.Cues, "source", c.Source)
	return c, nil
}

// DeleteCaptions removes a talk's caption track in lang from talk.json (and
// from the replay's playlist), then from the Store. check, when set, may
// refuse the change (its error is returned).
func (l *Library) DeleteCaptions(ctx context.Context, id, lang string, check func(Talk) error) error {
	return l.editChecked(ctx, id, check, func(t Talk) error {
		i := slices.IndexFunc(t.Captions, func(c Caption) bool { return c.Lang == lang })
		if i < 0 {
			return fmt.Errorf("talk %q has no %s captions; GET /api/talks/%s lists its captions: %w", id, lang, id, ErrNotFound)
		}
		t.Captions = slices.Delete(t.Captions, i, i+1)
		if _, err := l.save(ctx, t, t.Recording != nil); err != nil {
			return err
		}
		for _, key := range []string{CaptionKey(id, lang), CaptionPlaylistKey(id, lang), CaptionHLSKey(id, lang), CaptionLiveKey(id, lang)} {
			if err := l.Store.Delete(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("the %s captions are no longer listed, but %s remains in the archive: %w; delete it by hand", lang, key, err)
			}
		}
		return nil
	})
}

// CaptionFile reads a talk's stored caption track.
func (l *Library) CaptionFile(ctx context.Context, id, lang string) ([]byte, error) {
	t, err := l.Get(id)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(t.Captions, func(c Caption) bool { return c.Lang == lang }) {
		return nil, fmt.Errorf("talk %q has no %s captions: %w", id, lang, ErrNotFound)
	}
	rc, _, err := l.Store.Get(ctx, CaptionKey(id, lang), 0, -1)
	if err != nil {
		return nil, fmt.Errorf("read the %s captions of talk %q: %w", lang, id, err)
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, captions.DefaultMaxBytes*2))
}
