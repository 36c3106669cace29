package captions

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Live keeps the cues posted live on each stage (POST
// /api/stages/{stage}/captions), in wall-clock time: the live HLS serves
// them as a subtitle rendition, and the programme archives a talk's cues
// with it when it ends. Each cue is appended to Dir/{stage}.jsonl and
// fsynced before Add returns, so a restart loses none that was
// acknowledged; Initialize reads the journals back. On several nodes the
// cues are shared through the deployment's log instead (Shared,
// live_shared.go).
//
// One mutex guards the cues, the open journals and the waiting Adds.
type Live struct {
	// Dir holds the journals; "" keeps the cues in memory only.
	Dir string
	// CueDuration is how long a cue shows when no later cue in its language
	// ends it sooner. Default 4 s.
	CueDuration time.Duration
	// Keep is how long cues stay, in memory and in the journal (compacted,
	// live_compact.go). Default 24 h.
	Keep time.Duration
	// CompactAt is the journal size (bytes) at which Add first compacts a
	// stage's journal; the next compaction waits until the journal is twice
	// its compacted size. Default 1 MiB.
	CompactAt int64
	// Shared, when set (salon on several nodes), is the log the nodes
	// share the cues through; Dir is then not used.
	Shared SharedCues
	Log    *slog.Logger
	Now    func() time.Time // default time.Now

	mu      sync.Mutex
	stages  map[string]*liveStage
	shared  CueLog                  // opened from Shared
	waiting map[string]chan LiveCue // Adds waiting for their cue from shared, by record id
}

type liveStage struct {
	langs   map[string][]LiveCue // by language, in time order
	sorted  []string             // the keys of langs, sorted; replaced, never changed
	journal *os.File
	// size is the journal's length in bytes; Add compacts it once it
	// reaches compactAt.
	size, compactAt int64
}

// LiveCue is one cue as posted: its language, when it was posted (it shows
// from then) and its text (clean WebVTT cue text).
type LiveCue struct {
	Lang string    `json:"lang"`
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Timed is a cue in wall-clock time.
type Timed struct {
	Start, End time.Time
	Text       string
}

// Limits of live cues.
const (
	MaxLiveText     = 500    // bytes of one posted cue
	maxLiveCues     = 50_000 // per stage and language in memory; the oldest half goes beyond
	maxLiveLangs    = 20     // per stage
	liveJournalName = ".jsonl"
)

// ErrLive is returned (wrapped) for a cue that is refused: 400.
var ErrLive = errors.New("bad live caption")

// Initialize fills defaults and reads the journals back.
func (l *Live) Initialize() error {
	if l.CueDuration <= 0 {
		l.CueDuration = 4 * time.Second
	}
	if l.Keep <= 0 {
		l.Keep = 24 * time.Hour
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.CompactAt <= 0 {
		l.CompactAt = defaultCompactAt
	}
	l.stages = map[string]*liveStage{}
	l.waiting = map[string]chan LiveCue{}
	if l.Shared != nil {
		return l.openShared()
	}
	if l.Dir == "" {
		return nil
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return fmt.Errorf("captions: make the live captions directory: %w", err)
	}
	entries, err := os.ReadDir(l.Dir)
	if err != nil {
		return fmt.Errorf("captions: read %s: %w", l.Dir, err)
	}
	l.removeTemps(entries)
	since := l.Now().Add(-l.Keep)
	for _, e := range entries {
		stage, ok := strings.CutSuffix(e.Name(), liveJournalName)
		if !ok || !validStage(stage) {
			continue
		}
		stale, err := l.load(stage, since)
		if err != nil {
			return err
		}
		if stale {
			if err := l.compactLocked(stage, l.stages[stage]); err != nil {
				return err
			}
		}
	}
	return nil
}

// load reads a stage's journal back; stale says it holds cues (or broken
// lines) Live no longer keeps, which a compaction would drop.
func (l *Live) load(stage string, since time.Time) (stale bool, err error) {
	path := filepath.Join(l.Dir, stage+liveJournalName)
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("captions: read the live journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	st := l.stage(stage)
	bad, old := 0, 0
	for sc.Scan() {
		st.size += int64(len(sc.Bytes())) + 1
		var c LiveCue
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil || c.Lang == "" || c.At.IsZero() {
			bad++ // a line cut short by a crash
			continue
		}
		if c.At.Before(since) {
			old++
			continue
		}
		if st.langs[c.Lang] == nil {
			st.addLang(c.Lang)
		}
		st.langs[c.Lang] = appendCue(st.langs[c.Lang], c)
	}
	if bad > 0 {
		l.Log.Warn("live captions journal has lines that do not read; they are skipped", "file", path, "lines", bad)
	}
	st.compactAt = max(2*st.size, l.CompactAt)
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("captions: read the live journal %s: %w", path, err)
	}
	return old > 0 || bad > 0, nil
}

// Close closes the journals, or stops following the shared log.
func (l *Live) Close() error {
	l.mu.Lock()
	shared := l.shared
	l.shared = nil
	l.mu.Unlock()
	var errs []error
	if shared != nil {
		errs = append(errs, shared.Close()) // not under mu: a delivery may be waiting for it
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range l.stages {
		if st.journal != nil {
			errs = append(errs, st.journal.Close())
			st.journal = nil
		}
	}
	return errors.Join(errs...)
}

func (l *Live) stage(name string) *liveStage {
	st := l.stages[name]
	if st == nil {
		st = &liveStage{langs: map[string][]LiveCue{}, compactAt: l.CompactAt}
		l.stages[name] = st
	}
	return st
}

func appendCue(cs []LiveCue, c LiveCue) []LiveCue {
	if len(cs) >= maxLiveCues {
		cs = append(cs[:0], cs[len(cs)/2:]...)
	}
	return append(cs, c)
}

// Add posts a cue in lang on stage now: it shows from now until the next
// cue in its language, at most CueDuration. lang must be a BCP 47 tag; the
// text, 1–MaxLiveText bytes, is cleaned as an uploaded cue's is (WebVTT
// markup kept, other tags dropped). Errors wrap ErrLive when the cue is
// refused.
func (l *Live) Add(stage, lang, text string) (LiveCue, error) {
	if !validStage(stage) {
		return LiveCue{}, fmt.Errorf("stage %q must be 1–64 of a-z, 0-9 and -: %w", truncate(stage, 80), ErrLive)
	}
	lang, err := CanonicalLang(lang)
	if err != nil {
		return LiveCue{}, fmt.Errorf("%v: %w", err, ErrLive)
	}
	if !utf8.ValidString(text) {
		return LiveCue{}, fmt.Errorf("text is not UTF-8: %w", ErrLive)
	}
	clean, _ := cleanText(strings.ReplaceAll(text, "-->", "->"))
	if strings.TrimSpace(PlainText(clean)) == "" {
		return LiveCue{}, fmt.Errorf("text is empty: send the words to show: %w", ErrLive)
	}
	if len(clean) > MaxLiveText {
		return LiveCue{}, fmt.Errorf("text is %d bytes, more than %d: post shorter cues, one line at a time: %w", len(clean), MaxLiveText, ErrLive)
	}
	if l.Shared != nil {
		return l.addShared(stage, lang, clean)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stage(stage)
	cs := st.langs[lang]
	if cs == nil && len(st.langs) >= maxLiveLangs {
		return LiveCue{}, fmt.Errorf("stage %s has live captions in %d languages already: %w", stage, maxLiveLangs, ErrLive)
	}
	at := l.Now().UTC().Round(time.Millisecond)
	if n := len(cs); n > 0 && !at.After(cs[n-1].At) {
		at = cs[n-1].At.Add(time.Millisecond) // keep them in order
	}
	c := LiveCue{Lang: lang, At: at, Text: clean}
	if err := l.journal(stage, st, c); err != nil {
		return LiveCue{}, err
	}
	if cs == nil {
		st.addLang(lang)
	}
	st.langs[lang] = appendCue(cs, c)
	if l.Dir != "" && st.size >= st.compactAt {
		// The cue is journaled already: a failed compaction leaves the
		// whole journal, and is tried again at the next cue.
		if err := l.compactLocked(stage, st); err != nil {
			l.Log.Error("live captions journal not compacted; it keeps growing", "stage", stage, "error", err)
			st.compactAt = st.size + l.CompactAt
		}
	}
	return c, nil
}

// journal appends c to the stage's journal and syncs it; lock held.
func (l *Live) journal(stage string, st *liveStage, c LiveCue) error {
	if l.Dir == "" {
		return nil
	}
	if st.journal == nil {
		f, err := os.OpenFile(filepath.Join(l.Dir, stage+liveJournalName), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open the live captions journal: %w; check the data directory's disk", err)
		}
		st.journal = f
		if err := endLine(f); err != nil {
			return fmt.Errorf("repair the live captions journal: %w; check the data directory's disk", err)
		}
	}
	line, _ := json.Marshal(c)
	n, err := st.journal.Write(append(line, '\n'))
	st.size += int64(n)
	if err != nil {
		return fmt.Errorf("write the live captions journal: %w; check the data directory's disk", err)
	}
	if err := st.journal.Sync(); err != nil {
		return fmt.Errorf("sync the live captions journal: %w; check the data directory's disk", err)
	}
	return nil
}

// addLang lists a new language; lock held.
func (st *liveStage) addLang(lang string) {
	s := append(slices.Clone(st.sorted), lang)
	slices.Sort(s)
	st.sorted = s
}

// Langs lists the languages a stage has live cues in, sorted. The slice is
// shared (every live playlist request asks): do not modify it.
func (l *Live) Langs(stage string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.stages[stage]; st != nil {
		return st.sorted
	}
	return nil
}

// Span returns the cues in lang on stage that show at some time in
// [from, to), in order.
func (l *Live) Span(stage, lang string, from, to time.Time) []Timed {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stages[stage]
	if st == nil {
		return nil
	}
	cs := st.langs[lang]
	// The first cue that may still show at from.
	i, _ := slices.BinarySearchFunc(cs, from.Add(-l.CueDuration), func(c LiveCue, t time.Time) int { return c.At.Compare(t) })
	var out []Timed
	for ; i < len(cs) && cs[i].At.Before(to); i++ {
		end := cs[i].At.Add(l.CueDuration)
		if i+1 < len(cs) && cs[i+1].At.Before(end) {
			end = cs[i+1].At
		}
		if end.After(from) {
			out = append(out, Timed{Start: cs[i].At, End: end, Text: cs[i].Text})
		}
	}
	return out
}

// validStage is ingest's rule for stage names (1–64 of a-z 0-9 -), which
// journal file names rely on.
func validStage(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// endLine ends the file with a newline if a crash cut its last line short,
// so that the next cue starts a line of its own.
func endLine(f *os.File) error {
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, info.Size()-1); err != nil {
		return nil // opened write-only on some systems: leave it
	}
	if last[0] == '\n' {
		return nil
	}
	_, err = f.Write([]byte{'\n'})
	return err
}
