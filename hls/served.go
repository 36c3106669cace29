package hls

import (
	"sync"
)

// served is what File and Playlist read for one stage: the newest playlist
// snapshot and the init, segment and part bytes. mu guards every field; the
// segmenting goroutine swaps them in with one short critical section per
// finished part or segment.
type served struct {
	mu    sync.Mutex
	live  bool
	snap  *snapshot // nil until the first segment
	files map[string][]byte
	// changed is closed and replaced whenever snap or live changes, waking
	// every request that waits (a first playlist, a blocking reload, a
	// preload-hinted part): one channel per change, no goroutine per viewer.
	changed chan struct{}
	st      Stats
}

func newServed() *served {
	return &served{files: map[string][]byte{}, changed: make(chan struct{})}
}

// broadcast wakes waiters. Call with mu held.
func (s *served) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// playlist returns the newest snapshot (nil before the first segment).
func (s *served) playlist() (snap *snapshot, live bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, s.live, s.changed
}

// file returns a file's bytes, or nil, and the snapshot and change channel
// to wait on when it is not there yet.
func (s *served) file(name string) ([]byte, *snapshot, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[name], s.snap, s.changed
}

func (s *served) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// setLive marks the stage live or offline; snap, when not nil, replaces the
// playlist (without a preload hint once offline).
func (s *served) setLive(live bool, run string, snap *snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
	if run != "" {
		s.st.Run = run
	}
	if snap != nil && s.snap != nil {
		s.snap = snap
	}
	s.st.Live = live
	s.broadcast()
}

// addInit makes an init segment fetchable before the playlist refers to it.
func (s *served) addInit(name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = data
}

// publish makes a new segment, its last part (when it has parts) and the
// playlist that lists them visible at once, and forgets files that left the
// retention window.
func (s *served) publish(seg *Segment, lastPart string, lastPartData []byte, snap *snapshot, remove []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[seg.Name] = seg.Data
	if lastPart != "" {
		s.files[lastPart] = lastPartData
	}
	for _, name := range remove {
		delete(s.files, name)
	}
	s.snap = snap
	s.st.Segments++
	s.st.Bytes += uint64(len(seg.Data))
	s.st.Window = len(snap.entries)
	s.st.TargetDuration = secondsDuration(snap.target)
	s.st.LastSegment = seg.Start
	s.broadcast()
}

// publishPart makes a part and the playlist that lists it visible at once.
// Before the stage's first segment, the part is served but no playlist yet:
// players start from a playlist with at least one whole segment.
func (s *served) publishPart(name string, data []byte, snap *snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = data
	if len(snap.entries) > 0 {
		s.snap = snap
	}
	s.broadcast()
}
