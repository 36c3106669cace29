package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/programme"
	"github.com/salon/salon/transcode"
)

// recorderHealth is the recorder as the console needs it; *archive.Recorder
// satisfies it.
type recorderHealth interface {
	Health() archive.RecorderHealth
}

// changeNotifier tells the feed at once when something changed:
// *stream.Registry (a publisher came or went) and *archive.Library (a talk
// changed) satisfy it. Optional: without it, changes show at the next tick.
type changeNotifier interface {
	Changed() <-chan struct{}
}

const (
	// feedTick is how often the console gets a fresh health snapshot.
	feedTick = time.Second
	// bitrateHistory is how many per-second bitrate samples a stage keeps
	// for the console's chart (5 minutes).
	bitrateHistory = 300
	// feedQueue is how many frames may wait for one slow console before it
	// misses some (the next snapshot replaces what it missed).
	feedQueue = 4
)

// consoleSnapshot is one "health" event of GET /admin/events.
type consoleSnapshot struct {
	Now     time.Time               `json:"now"`
	Stages  []consoleStage          `json:"stages"`
	Archive *archive.RecorderHealth `json:"archive,omitempty"`
}

// consoleStage is a stage's health for the console.
type consoleStage struct {
	stream.StageInfo
	Viewers     int `json:"viewers"`
	ViewersPeak int `json:"viewers_peak"`
	// Bitrate is the stage's total bitrate (bit/s) once per second, oldest
	// first, over the last few minutes (0 while offline).
	Bitrate []int64 `json:"bitrate"`
	// Auto and Next come from the programme: whether the schedule starts
	// and stops the stage's talks, and the id of the talk Next would start.
	Auto *bool  `json:"auto,omitempty"`
	Next string `json:"next,omitempty"`
	// Transcode is the state of -transcode's ffmpeg child for the stage
	// (running, restarting with back-off, last exit, units dropped).
	Transcode *transcode.StageState `json:"transcode,omitempty"`
}

// stageHistory is what the feed remembers of a stage between snapshots.
type stageHistory struct {
	bitrate  []int64
	sampled  time.Time // when the last bitrate sample was added
	peak     int
	peakDay  string // the event-local day the peak belongs to
	lastLive bool
}

// consoleFeed builds the console's snapshots on one goroutine and hands the
// encoded frames to every open console. The goroutine owns history; mu
// guards subs and the latest frames.
type consoleFeed struct {
	// What the snapshots read: set before start, read-only.
	stages    stageSource
	lib       talkLister      // optional; may tell its changes (changeNotifier)
	recorder  recorderHealth  // optional
	programme stageDays       // optional
	transcode transcodeStates // optional
	zone      *eventZone
	viewers   *viewers
	resp      *responder // talkJSON
	log       *slog.Logger

	history map[string]*stageHistory

	mu        sync.Mutex
	subs      map[chan []byte]struct{}
	snap      consoleSnapshot // latest snapshot (its slices are not shared)
	health    []byte          // latest "health" frame
	talks     []byte          // latest "talks" frame
	talksData []byte          // its JSON, to see changes

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// stageDays is the programme's day: each stage's auto mode and next talk.
type stageDays interface {
	Day() []programme.StageDay
}

// start takes the first snapshot and starts the feed's goroutine; close
// stops it.
func (f *consoleFeed) start() {
	f.history, f.subs, f.done = map[string]*stageHistory{}, map[chan []byte]struct{}{}, make(chan struct{})
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.update(time.Now())
	go f.run()
}

func (f *consoleFeed) close() {
	if f.cancel == nil {
		return // never started
	}
	f.cancel()
	<-f.done
}

func (f *consoleFeed) run() {
	defer close(f.done)
	t := time.NewTicker(feedTick)
	defer t.Stop()
	var stages, talks <-chan struct{} // nil (never ready) without a notifier
	// watch takes the channels of the next change before a snapshot is
	// built, so a change during the build wakes the loop again.
	watch := func() {
		if c, ok := f.stages.(changeNotifier); ok {
			stages = c.Changed()
		}
		if c, ok := f.lib.(changeNotifier); ok {
			talks = c.Changed()
		}
	}
	watch()
	for {
		select {
		case <-f.ctx.Done():
			return
		case now := <-t.C:
			watch()
			f.update(now)
		case <-stages:
			watch()
			f.update(time.Now())
		case <-talks:
			watch()
			f.update(time.Now())
		}
	}
}

// update builds the snapshot and sends it to every console. Bitrate history
// advances at most once per tick, however often changes arrive.
func (f *consoleFeed) update(now time.Time) {
	snap := f.snapshot(now)
	health := sseFrame("health", snap)
	var talksFrame, talksData []byte
	f.mu.Lock()
	watched := len(f.subs) > 0
	f.mu.Unlock()
	if watched { // nobody to tell: subscribe reads the talks itself
		talksData = f.talksJSON()
	}

	f.mu.Lock()
	f.snap, f.health = snap, health
	if talksData != nil && !bytes.Equal(talksData, f.talksData) {
		f.talksData = talksData
		f.talks = sseFrameRaw("talks", talksData)
		talksFrame = f.talks
	}
	for ch := range f.subs {
		if talksFrame != nil {
			offer(ch, talksFrame)
		}
		offer(ch, health)
	}
	f.mu.Unlock()
}

// offer queues a frame without waiting: a console too slow to take it
// misses it, and the next snapshot is complete by itself.
func offer(ch chan []byte, frame []byte) {
	select {
	case ch <- frame:
	default:
	}
}

func (f *consoleFeed) snapshot(now time.Time) consoleSnapshot {
	snap := consoleSnapshot{Now: now.UTC(), Stages: []consoleStage{}}
	if f.recorder != nil {
		h := f.recorder.Health()
		snap.Archive = &h
	}
	day := now.In(f.zone.location()).Format(time.DateOnly)
	seen := map[string]bool{}
	for _, info := range f.stages.Stages() {
		seen[info.Name] = true
		snap.Stages = append(snap.Stages, f.stage(info, now, day))
	}
	// Stages the programme names but nobody published to yet.
	if f.lib != nil {
		for _, t := range f.lib.List() {
			if t.Stage != "" && !seen[t.Stage] {
				seen[t.Stage] = true
				snap.Stages = append(snap.Stages, f.stage(stream.StageInfo{Name: t.Stage}, now, day))
			}
		}
	}
	if f.programme != nil {
		byName := map[string]*consoleStage{}
		for i := range snap.Stages {
			byName[snap.Stages[i].Name] = &snap.Stages[i]
		}
		for _, d := range f.programme.Day() {
			cs := byName[d.Stage]
			if cs == nil {
				snap.Stages = append(snap.Stages, f.stage(stream.StageInfo{Name: d.Stage}, now, day))
				cs = &snap.Stages[len(snap.Stages)-1]
				for i := range snap.Stages { // the append may have moved them
					byName[snap.Stages[i].Name] = &snap.Stages[i]
				}
			}
			auto := d.Auto
			cs.Auto = &auto
			if d.Next != nil {
				cs.Next = d.Next.ID
			}
		}
	}
	sort.Slice(snap.Stages, func(i, j int) bool { return snap.Stages[i].Name < snap.Stages[j].Name })
	return snap
}

func (f *consoleFeed) stage(info stream.StageInfo, now time.Time, day string) consoleStage {
	if info.Tracks == nil {
		info.Tracks = []stream.TrackInfo{}
	}
	h := f.history[info.Name]
	if h == nil {
		h = &stageHistory{}
		f.history[info.Name] = h
	}
	var total int64
	for _, t := range info.Tracks {
		total += t.Bitrate
	}
	if !info.Live {
		total = 0
	}
	// One sample per tick: an update between ticks (a change) replaces the
	// last sample instead of adding one.
	if n := len(h.bitrate); n > 0 && now.Sub(h.sampled) < feedTick*9/10 {
		h.bitrate[n-1] = total
	} else {
		h.bitrate, h.sampled = append(h.bitrate, total), now
	}
	if len(h.bitrate) > bitrateHistory {
		h.bitrate = append(h.bitrate[:0], h.bitrate[len(h.bitrate)-bitrateHistory:]...)
	}
	viewers := f.viewers.total(info.Name, time.Now())
	if h.peakDay != day {
		h.peak, h.peakDay = 0, day
	}
	h.peak = max(h.peak, viewers)
	cs := consoleStage{StageInfo: info, Viewers: viewers, ViewersPeak: h.peak, Bitrate: append([]int64(nil), h.bitrate...)}
	if f.transcode != nil {
		if st, ok := f.transcode.State(info.Name); ok {
			cs.Transcode = &st
		}
	}
	return cs
}

// talksJSON is every talk as the API shows it, by start time.
func (f *consoleFeed) talksJSON() []byte {
	if f.lib == nil {
		return []byte("[]")
	}
	b, err := json.Marshal(f.consoleTalks())
	if err != nil {
		f.log.Error("encode the console's talks", "error", err)
		return []byte("[]")
	}
	return b
}

// consoleTalks is every talk, by stage and start time (unscheduled last).
func (f *consoleFeed) consoleTalks() []talkJSON {
	list := f.lib.List()
	out := make([]talkJSON, 0, len(list))
	for _, t := range list {
		out = append(out, f.resp.talkJSON(t))
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.StartsAt.IsZero() != b.StartsAt.IsZero() {
			return b.StartsAt.IsZero()
		}
		if !a.StartsAt.Equal(b.StartsAt) {
			return a.StartsAt.Before(b.StartsAt)
		}
		return a.ID < b.ID
	})
	return out
}

func sseFrame(event string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{}`)
	}
	return sseFrameRaw(event, b)
}

// sseFrameRaw is one server-sent event; data is JSON, which has no newline.
func sseFrameRaw(event string, data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data) + len(event) + 16)
	buf.WriteString("event: ")
	buf.WriteString(event)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
	return buf.Bytes()
}

// subscribe adds a console; the first frames are the latest talks and
// health, so the page is complete at once.
func (f *consoleFeed) subscribe() chan []byte {
	ch := make(chan []byte, feedQueue)
	talksData := f.talksJSON() // the feed skips them while nobody watches
	f.mu.Lock()
	defer f.mu.Unlock()
	if !bytes.Equal(talksData, f.talksData) {
		f.talksData, f.talks = talksData, sseFrameRaw("talks", talksData)
	}
	ch <- f.talks
	if f.health != nil {
		ch <- f.health
	}
	f.subs[ch] = struct{}{}
	return ch
}

func (f *consoleFeed) unsubscribe(ch chan []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, ch)
}

// handleEvents is GET /admin/events: the console's server-sent events, a
// "health" snapshot every second and at once on a change, a "talks" list
// whenever it changes. Session only: an EventSource cannot send a bearer
// token, and scripts have the JSON API.
func (s *consoleHandlers) handleEvents(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.adminSession(r); !ok {
		s.jsonError(w, http.StatusUnauthorized, "log in at /admin first: the console's events need its session")
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	w.WriteHeader(http.StatusOK)
	ch := s.feed.subscribe()
	defer s.feed.unsubscribe(ch)
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.feed.ctx.Done():
			return
		case frame := <-ch:
			rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := w.Write(frame); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
