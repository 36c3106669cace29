package hls

import (
	"sync"
)

// served is what File reads for one stage: the rendered playlist and the
// segment and init bytes. mu guards every field; the segmenting goroutine
// swaps them in with one short critical section per finished segment.
type served struct {
	mu    sync.Mutex
	live  bool
	index []byte
	files map[string][]byte
	// changed is closed and replaced whenever index or live changes, waking
	// File calls that wait for a first playlist.
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

func (s *served) playlist() (index []byte, live bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index, s.live, s.changed
}

func (s *served) file(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[name]
}

func (s *served) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *served) setLive(live bool, run string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
	if run != "" {
		s.st.Run = run
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

// publish makes a new segment and the playlist that lists it visible at once,
// and forgets files that left the retention window.
func (s *served) publish(seg *Segment, index []byte, remove []string, window int, target int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[seg.Name] = seg.Data
	for _, name := range remove {
		delete(s.files, name)
	}
	s.index = index
	s.st.Segments++
	s.st.Bytes += uint64(len(seg.Data))
	s.st.Window = window
	s.st.TargetDuration = secondsDuration(target)
	s.st.LastSegment = seg.Start
	s.broadcast()
}
