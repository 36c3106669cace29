package archive

import (
	"testing"
	"time"

	"github.com/salon/salon/hls"
)

// Helpers for the external tests (package archive_test), which can use
// storetest without an import cycle.

// RecorderTestSegments makes one run of ffmpeg-encoded segments (1 s each).
func RecorderTestSegments(t testing.TB, secs int, stage, run string) []*hls.Segment {
	t.Helper()
	return makeMedia(t, secs, "160x120").segments(stage, run, 0, "init-0.mp4", recT0)
}

// RecorderCheckRun checks that the run of segs is stored completely and
// exactly, and returns whether its playlist is ended.
func RecorderCheckRun(t testing.TB, s Store, segs []*hls.Segment) (ended bool) {
	t.Helper()
	return checkRun(t, s, segs).EndList
}

// RecorderBackoff shortens the recorder's back-off for tests.
func RecorderBackoff(r *Recorder) {
	r.MinBackoff, r.MaxBackoff = 5*time.Millisecond, 100*time.Millisecond
}

// RecordedPair records six seconds of stage main as a source and a
// rendition "360p" (recordPair) and returns when they begin.
func RecordedPair(t *testing.T, store Store) time.Time {
	t.Helper()
	recordPair(t, store)
	return recT0
}
