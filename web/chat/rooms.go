package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"time"
)

// Errors of Rooms.Use.
var (
	// ErrNoRoom: the stage is neither live nor has talks, so it gets no room.
	ErrNoRoom = errors.New("the stage has no chat: it is not live and has no talks")
	// ErrFull: every room is in use (MaxRooms) and none is idle.
	ErrFull = errors.New("every chat room is in use")
	// ErrClosed: the rooms are shutting down.
	ErrClosed = errors.New("chat is shutting down")
)

// stageSource says which stages may have a room and which talk is on each;
// the programme satisfies it.
type stageSource interface {
	// HasStage reports whether stage is live (or was since start) or has talks.
	HasStage(stage string) bool
	// OnStage is the talk live on stage: its id and what pages get in the
	// welcome and talk frames (it must encode to JSON).
	OnStage(stage string) (id string, talk any, ok bool)
}

// Rooms holds one chat hub per stage. A room is opened on first use for a
// stage that is live or has talks (Stages) — never for any name a client
// makes up, so anonymous websockets cannot use rooms up or leave journals
// behind — and an idle room (no viewers, nobody using it, for IdleAfter)
// is closed; its journal stays on disk and is replayed when it opens again.
//
// mu guards the room table; a room's hub has its own lock. A room in use
// (uses > 0, counted by Use) is never closed under its user.
type Rooms struct {
	// Dir holds each stage's chat journal ({stage}.jsonl). Empty keeps
	// chat in memory only.
	Dir string
	// Logs, when set, holds each stage's chat log instead of Dir: the
	// replicated log that the nodes of a cluster share (package cluster).
	Logs RoomLogs
	// Stages says which stages may have a room and which talk is on each.
	// Nil lets every stage name have one, with no talk (tests).
	Stages stageSource
	Log    *slog.Logger
	// CheckOrigin decides whether a browser page may connect (Hub.CheckOrigin).
	CheckOrigin func(*http.Request) bool
	// SharedNets are addresses many viewers share (Hub.SharedNets).
	SharedNets []netip.Prefix
	// MaxRooms bounds the open rooms, default 64. When full, the idle room
	// used least recently is closed to make space.
	MaxRooms int
	// IdleAfter is how long a room without viewers stays open, default 2 min.
	IdleAfter time.Duration
	// Configure, if set, adjusts each hub before it is initialized (tests).
	Configure func(*Hub)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool
}

type room struct {
	hub      *Hub
	uses     int       // Use calls running now
	lastUsed time.Time // when the last Use ended, or the room opened
}

// Initialize fills defaults and starts the idle sweep.
func (r *Rooms) Initialize() error {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.MaxRooms <= 0 {
		r.MaxRooms = 64
	}
	if r.IdleAfter <= 0 {
		r.IdleAfter = 2 * time.Minute
	}
	r.rooms = make(map[string]*room)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.runSweep()
	return nil
}

// Close closes every room (viewers get a close frame) and waits for them.
func (r *Rooms) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	rooms := r.rooms
	r.rooms = nil
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	for _, rm := range rooms {
		rm.hub.Close()
	}
}

// Use runs fn with the stage's hub, opening the room (which replays its
// journal) when the stage may have one. The room is not closed while fn
// runs. fn must not call Use.
func (r *Rooms) Use(stage string, fn func(*Hub)) error {
	rm, err := r.acquire(stage, true)
	if err != nil {
		return err
	}
	defer r.release(rm)
	fn(rm.hub)
	return nil
}

// Open reports whether the stage's room is open now.
func (r *Rooms) Open(stage string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rooms[stage] != nil
}

// Len is the number of open rooms.
func (r *Rooms) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rooms)
}

// TalkChanged tells the viewers of the stage's room, if it is open, which
// talk is live now ({"type":"talk"}); a room opened later says so in its
// welcome frame.
//
// With Logs (a cluster), the room is opened if need be and the change goes
// through its log, so the viewers on every node are told and every node
// stamps messages with the talk.
func (r *Rooms) TalkChanged(stage string) {
	rm, err := r.acquire(stage, r.Logs != nil)
	if err != nil {
		return
	}
	defer r.release(rm)
	var id string
	var talk any
	if r.Stages != nil {
		if i, t, ok := r.Stages.OnStage(stage); ok {
			id, talk = i, t
		}
	}
	if err := rm.hub.TalkChanged(id, talk); err != nil {
		r.Log.Error("the stage's viewers on other nodes were not told of the talk change", "stage", stage, "err", err)
	}
}

// TalkLog returns what the stage's chat holds of a talk: its messages since
// since (deleted ones included and marked, client identities removed) and
// its slide page changes, oldest first. After a restart the room is opened,
// which replays the journal written before the crash.
func (r *Rooms) TalkLog(stage, talk string, since time.Time) (msgs []Message, slides []Slide, err error) {
	err = r.Use(stage, func(h *Hub) { msgs, slides = talkLog(h, talk, since) })
	return msgs, slides, err
}

// archiveSync bounds ArchiveTalkLog's wait for a replicated log.
const archiveSync = 20 * time.Second

// ArchiveTalkLog is TalkLog for the talk's archive. With Logs (a cluster)
// it first waits until this node has applied every record the stage's log
// holds, so that a talk stopped on another node, or an end-of-talk job
// taken over from a dead one, gets every message any node acknowledged.
func (r *Rooms) ArchiveTalkLog(stage, talk string, since time.Time) (msgs []Message, slides []Slide, err error) {
	var syncErr error
	err = r.Use(stage, func(h *Hub) {
		if s, ok := h.roomLog.(syncedLog); ok {
			ctx, cancel := context.WithTimeout(r.ctx, archiveSync)
			defer cancel()
			if err := s.Sync(ctx); err != nil {
				syncErr = fmt.Errorf("the chat of stage %s is not caught up with its log: %w", stage, err)
				return
			}
		}
		msgs, slides = talkLog(h, talk, since)
	})
	if err = errors.Join(err, syncErr); err != nil {
		return nil, nil, err
	}
	return msgs, slides, nil
}

// talkLog is what h holds of a talk.
func talkLog(h *Hub, talk string, since time.Time) (msgs []Message, slides []Slide) {
	for _, m := range h.Messages(since, time.Time{}) {
		if m.Talk == talk {
			m.ClientID = "" // identities stay in the server
			msgs = append(msgs, m)
		}
	}
	return msgs, h.Slides(talk)
}

// acquire finds the stage's room, opening it when create and the stage may
// have one, and counts a use.
func (r *Rooms) acquire(stage string, create bool) (*room, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if rm := r.rooms[stage]; rm != nil {
		rm.uses++
		return rm, nil
	}
	if !create {
		return nil, ErrNoRoom
	}
	if r.Stages != nil && !r.Stages.HasStage(stage) {
		return nil, ErrNoRoom
	}
	if len(r.rooms) >= r.MaxRooms && !r.evictLocked() {
		r.Log.Warn("every chat room is in use; a new stage's chat is refused", "stage", stage, "rooms", len(r.rooms))
		return nil, ErrFull
	}
	// Opening replays the journal under mu: rooms open rarely (a stage's
	// first viewer, the programme after a restart), and this keeps two
	// hubs from ever sharing one journal.
	h := &Hub{Stage: stage, Talks: roomTalks{r}, Log: r.Log, CheckOrigin: r.CheckOrigin, SharedNets: r.SharedNets,
		Logs: r.Logs, TalksFromLog: r.Logs != nil}
	if r.Dir != "" && r.Logs == nil {
		h.JournalPath = filepath.Join(r.Dir, stage+".jsonl")
	}
	if r.Configure != nil {
		r.Configure(h)
	}
	if err := h.Initialize(); err != nil {
		r.Log.Error("chat room did not open", "stage", stage, "error", err)
		return nil, fmt.Errorf("open the chat of stage %s: %w", stage, err)
	}
	rm := &room{hub: h, uses: 1, lastUsed: time.Now()}
	r.rooms[stage] = rm
	return rm, nil
}

func (r *Rooms) release(rm *room) {
	r.mu.Lock()
	rm.uses--
	rm.lastUsed = time.Now()
	r.mu.Unlock()
}

// evictLocked closes the idle room used least recently; mu held.
func (r *Rooms) evictLocked() bool {
	var oldest string
	for stage, rm := range r.rooms {
		if rm.uses == 0 && rm.hub.Viewers() == 0 && (oldest == "" || rm.lastUsed.Before(r.rooms[oldest].lastUsed)) {
			oldest = stage
		}
	}
	if oldest == "" {
		return false
	}
	r.closeLocked(oldest)
	return true
}

// closeLocked removes the stage's room and closes its hub; mu held. No
// viewer is connected and nobody uses it, so closing is quick (the journal's
// last batch is flushed) — and done before the room can open again, so two
// hubs never share a journal.
func (r *Rooms) closeLocked(stage string) {
	rm := r.rooms[stage]
	delete(r.rooms, stage)
	rm.hub.Close()
	r.Log.Debug("idle chat room closed", "stage", stage)
}

func (r *Rooms) runSweep() {
	defer r.wg.Done()
	t := time.NewTicker(r.IdleAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-t.C:
			r.sweep(now)
		}
	}
}

// sweep closes the rooms nobody has used or watched since IdleAfter before
// now, and at once those of stages that may no longer have a room.
func (r *Rooms) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for stage, rm := range r.rooms {
		if rm.uses > 0 || rm.hub.Viewers() > 0 {
			rm.lastUsed = now // idle from when the last viewer leaves
			continue
		}
		gone := r.Stages != nil && !r.Stages.HasStage(stage)
		if gone || now.Sub(rm.lastUsed) >= r.IdleAfter {
			r.closeLocked(stage)
		}
	}
}

// roomTalks tells a hub which talk is on its stage.
type roomTalks struct{ r *Rooms }

func (t roomTalks) LiveOn(stage string) (string, any, bool) {
	if t.r.Stages == nil {
		return "", nil, false
	}
	return t.r.Stages.OnStage(stage)
}
