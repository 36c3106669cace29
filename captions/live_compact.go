package captions

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/salon/salon/internal/durable"
)

// Compaction keeps a stage's journal to the cues Live still holds. A
// journal only grows as cues are posted, while Live forgets cues older than
// Keep (and the oldest half of a language past its cap): without
// compaction the file, and the time Initialize takes to read it, would grow
// with every day of the event. Add compacts a stage once its journal has
// reached CompactAt bytes, then waits until it has doubled again, so a
// journal whose cues are all still kept costs one rewrite per doubling.
// Initialize compacts a journal that held cues it no longer keeps.
//
// A compaction is crash-safe: the kept cues are written to a temporary file
// beside the journal, fsynced and renamed over it (internal/durable), so a
// crash leaves either the old journal (all its cues, read again as before)
// or the new one; a temporary file a crash left behind is removed at start.

// defaultCompactAt is the journal size (bytes) of a stage's first
// compaction: about 5,000 cues, an hour or two of live captioning.
const defaultCompactAt = 1 << 20

// compactLocked rewrites the stage's journal with the cues it holds after
// forgetting those older than Keep; lock held.
func (l *Live) compactLocked(stage string, st *liveStage) error {
	since := l.Now().Add(-l.Keep)
	var keep []LiveCue
	var langs []string
	for _, lang := range st.sorted {
		cs := st.langs[lang]
		i, _ := slices.BinarySearchFunc(cs, since, func(c LiveCue, t time.Time) int { return c.At.Compare(t) })
		if i == len(cs) {
			delete(st.langs, lang) // no cue left: the language goes from the live HLS
			continue
		}
		if i > 0 {
			cs = slices.Clone(cs[i:]) // let the forgotten ones go
			st.langs[lang] = cs
		}
		langs = append(langs, lang)
		keep = append(keep, cs...)
	}
	if len(langs) != len(st.sorted) {
		st.sorted = langs // replaced, never changed: Langs shares it
	}
	slices.SortStableFunc(keep, func(a, b LiveCue) int { return a.At.Compare(b.At) })
	var buf []byte
	for _, c := range keep {
		line, _ := json.Marshal(c)
		buf = append(append(buf, line...), '\n')
	}
	path := filepath.Join(l.Dir, stage+liveJournalName)
	if err := durable.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("compact the live captions journal of stage %s: %w; check the data directory's disk", stage, err)
	}
	// The open file is the old journal, renamed away: the next cue opens
	// the new one.
	if st.journal != nil {
		_ = st.journal.Close()
		st.journal = nil
	}
	before := st.size
	st.size = int64(len(buf))
	st.compactAt = max(2*st.size, l.CompactAt)
	l.Log.Info("live captions journal compacted", "stage", stage, "cues", len(keep), "bytes_before", before, "bytes", st.size)
	return nil
}

// Compact rewrites a stage's journal with the cues Live still holds (those
// of the last Keep), forgetting older ones in memory too. Add calls it by
// itself as the journal grows; it is exported for the operator's tools and
// the tests.
func (l *Live) Compact(stage string) error {
	if l.Dir == "" || l.Shared != nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stages[stage]
	if st == nil {
		return nil
	}
	return l.compactLocked(stage, st)
}

// removeTemps removes the temporary files of compactions a crash cut short
// (".{stage}.jsonl.*.tmp"): the journal beside each is whole.
func (l *Live) removeTemps(entries []os.DirEntry) {
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") && strings.HasSuffix(n, durable.TempSuffix) && strings.Contains(n, liveJournalName+".") {
			if err := os.Remove(filepath.Join(l.Dir, n)); err == nil {
				l.Log.Info("removed an unfinished live captions compaction", "file", n)
			}
		}
	}
}
