package stream

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// SilentAfter is how long a track may send nothing while another track of
// the same publish flows before the stage gets a warning.
const SilentAfter = 5 * time.Second

// silence watches the tracks of one publish for one that stops (or never
// starts) while another flows: a codec salon cannot decode, a muted encoder
// input. Such a track would otherwise vanish from the live stream without a
// word. Guarded by Registry.mu, like stats.
type silence struct {
	start  time.Time   // publish start: a track that never sent counts from here
	last   []time.Time // newest unit per track
	silent []bool      // warning shown
}

func newSilence(s *Stream) *silence {
	return &silence{start: s.Start, last: make([]time.Time, len(s.Tracks)), silent: make([]bool, len(s.Tracks))}
}

func silentKey(track int) string { return "silent-track-" + strconv.Itoa(track) }

// unit records a unit of track at now and updates the stage's warnings.
func (s *silence) unit(track int, now time.Time, st *path, tracks []*Track, log *slog.Logger) {
	if track < 0 || track >= len(s.last) {
		return
	}
	s.last[track] = now
	if s.silent[track] {
		s.silent[track] = false
		delete(st.warnings, silentKey(track))
		log.Info("track flows again", "stage", st.stage, "rendition", RenditionName(st.rendition), "track", track, "codec", tracks[track].CodecName())
	}
	for j := range s.last {
		if j == track || s.silent[j] {
			continue
		}
		since := s.last[j]
		if since.IsZero() {
			since = s.start
		}
		quiet := now.Sub(since)
		if quiet < SilentAfter {
			continue
		}
		s.silent[j] = true
		kind := "audio"
		if tracks[j].IsVideo() {
			kind = "video"
		}
		codec, secs := tracks[j].CodecName(), fmt.Sprintf("%.0f", quiet.Seconds())
		var w Warning
		switch {
		case kind == "video" && s.last[j].IsZero():
			w = Warn("stream.video_never", "Codec", codec, "Seconds", secs)
		case kind == "video":
			w = Warn("stream.video_stopped", "Codec", codec, "Seconds", secs)
		case s.last[j].IsZero():
			w = Warn("stream.audio_never", "Codec", codec, "Seconds", secs)
		default:
			w = Warn("stream.audio_stopped", "Codec", codec, "Seconds", secs)
		}
		st.warnings[silentKey(j)] = w
		log.Warn("a track of the publish is silent while another flows: viewers get none of it",
			"stage", st.stage, "rendition", RenditionName(st.rendition), "track", j, "kind", kind, "codec", tracks[j].CodecName(), "silent_for", quiet.Round(time.Second).String())
	}
}
