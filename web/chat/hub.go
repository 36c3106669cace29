// Package chat is the live chat of one stage: a websocket hub that keeps the
// recent history, stamps each message with the talk live at that moment,
// fans messages out without letting a slow viewer stall the room, and gives
// the organiser moderation (delete, ban, slow mode).
package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// ErrNotFound is returned by Delete and Ban for an id the hub does not know.
var ErrNotFound = errors.New("not found")

// talkSource tells the hub which talk is live on a stage. talk is what the
// pages get in the welcome and talk frames; it must encode to JSON.
type talkSource interface {
	LiveOn(stage string) (id string, talk any, ok bool)
}

// Hub is the chat of one stage.
//
// One mutex (mu) guards all mutable state: clients, per-IP state, bans,
// history, the message log and votes. Broadcasts encode under mu so every
// client's queue gets messages in the same order; sends to queues never block.
type Hub struct {
	// parameters
	Stage string
	Talks talkSource // may be nil: messages then carry no talk
	Log   *slog.Logger
	Now   func() time.Time // default time.Now

	// CheckOrigin decides whether a browser page may connect; default: the
	// Origin header's host equals the request's Host (or no Origin header).
	CheckOrigin func(*http.Request) bool

	MaxText       int           // characters per message, default 500
	MaxName       int           // characters per name, default 32
	History       int           // messages sent on join, default 100
	MaxLog        int           // messages kept for Messages (archiving), default 100000
	RateLimit     rate.Limit    // messages per second per connection and per IP, default 1.5 (3 per 2 s)
	RateBurst     int           // default 3
	MaxConnsPerIP int           // default 20
	SendQueue     int           // frames queued per client before it is dropped, default 64
	MaxFrame      int64         // bytes per client frame, default 4096; larger closes the connection
	SlowMode      time.Duration // minimum time between one viewer's messages; 0 is off
	PingInterval  time.Duration // default 30 s; a viewer silent for 2×PingInterval is dropped
	WriteTimeout  time.Duration // default 10 s

	// private
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	upgrader websocket.Upgrader
	viewersC chan struct{} // wakes the viewers goroutine when the count may have changed

	// Buffers shared by the connections, so an idle viewer holds none:
	// gorilla's write buffer (used only by refuse), a viewer frame being read,
	// frames being gathered into one write (hub_client.go).
	wsWriteBufs sync.Pool
	frameBufs   sync.Pool
	batchBufs   sync.Pool
	// The flusher wakes write pumps (hub_client.go): dirty, guarded by mu,
	// lists the clients whose queue became non-empty since its last round.
	flushOnce sync.Once
	flushC    chan struct{}
	dirty     []*client

	mu          sync.Mutex
	closed      bool
	clients     map[string]*client // by client id
	ips         map[string]*ipState
	bannedIDs   map[string]struct{}
	bannedIPs   map[string]struct{}
	history     []*Message // newest last, deleted ones removed, at most History
	log         []*Message // newest last, at most MaxLog
	byID        map[string]*Message
	voters      map[string]map[string]struct{} // message id → client ids
	clientIPs   map[string]string              // client id → IP, for banning authors who left
	slowMode    time.Duration
	lastViewers int
}

type ipState struct {
	conns   int
	limiter *rate.Limiter
}

// Initialize fills defaults and starts the hub.
func (h *Hub) Initialize() error {
	if h.Stage == "" {
		return fmt.Errorf("chat hub: Stage is empty")
	}
	if h.Log == nil {
		return fmt.Errorf("chat hub %s: Log is nil", h.Stage)
	}
	h.Log = h.Log.With("component", "chat", "stage", h.Stage)
	if h.Now == nil {
		h.Now = time.Now
	}
	setDefault(&h.MaxText, 500)
	setDefault(&h.MaxName, 32)
	setDefault(&h.History, 100)
	setDefault(&h.MaxLog, 100000)
	setDefault(&h.RateBurst, 3)
	setDefault(&h.MaxConnsPerIP, 20)
	setDefault(&h.SendQueue, 64)
	if h.RateLimit == 0 {
		h.RateLimit = rate.Every(2 * time.Second / 3)
	}
	if h.MaxFrame <= 0 {
		h.MaxFrame = 4096
	}
	if h.PingInterval <= 0 {
		h.PingInterval = 30 * time.Second
	}
	if h.WriteTimeout <= 0 {
		h.WriteTimeout = 10 * time.Second
	}
	if h.SlowMode < 0 {
		return fmt.Errorf("chat hub %s: SlowMode %v is negative", h.Stage, h.SlowMode)
	}
	h.slowMode = h.SlowMode
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  512, // viewers send small frames, rarely
		WriteBufferSize: 1024,
		WriteBufferPool: &h.wsWriteBufs, // broadcasts are PreparedMessages, written without it
		CheckOrigin:     h.CheckOrigin,  // nil: gorilla's same-host check
	}
	h.clients = make(map[string]*client)
	h.ips = make(map[string]*ipState)
	h.bannedIDs = make(map[string]struct{})
	h.bannedIPs = make(map[string]struct{})
	h.byID = make(map[string]*Message)
	h.voters = make(map[string]map[string]struct{})
	h.clientIPs = make(map[string]string)
	h.viewersC = make(chan struct{}, 1)
	h.ctx, h.cancel = context.WithCancel(context.Background())

	h.wg.Add(1)
	go h.runViewers()
	return nil
}

func setDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

// Close disconnects every viewer (close frame "server shutting down") and
// waits for all of the hub's goroutines, including ServeWS calls, to end.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// ServeWS upgrades r to a websocket and starts the viewer's connection, which
// the hub's goroutines run until it ends (Close waits for them); ServeWS
// returns once it has started, which frees net/http's per-request buffers and
// goroutine for the connection's life. clientIP is the viewer's address
// as the server trusts it (after any proxy handling), used for rate limits,
// connection limits and bans.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, clientIP string) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		http.Error(w, "chat is shutting down; reconnect in a moment", http.StatusServiceUnavailable)
		return
	}
	if st := h.ips[clientIP]; st != nil && st.conns >= h.MaxConnsPerIP {
		h.mu.Unlock()
		http.Error(w, "too many chat connections from your address; close other tabs", http.StatusTooManyRequests)
		return
	}
	// Count the connection before upgrading so concurrent upgrades cannot
	// exceed MaxConnsPerIP; released by removeLocked or below.
	st := h.ipLocked(clientIP)
	st.conns++
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	conn, err := h.upgrader.Upgrade(batchWriter{w}, r, nil)
	if err != nil {
		// Upgrade already answered with an HTTP error.
		h.Log.Debug("websocket upgrade failed", "ip", clientIP, "err", err)
		h.mu.Lock()
		h.releaseIPLocked(clientIP)
		h.mu.Unlock()
		return
	}

	c := newClient(h, conn, clientIP)
	c.name = "guest-" + c.id[:4]

	h.mu.Lock()
	_, banned := h.bannedIPs[clientIP]
	if h.closed || banned {
		h.releaseIPLocked(clientIP)
		h.mu.Unlock()
		if banned {
			c.refuse(CodeBanned, "you are banned from this chat")
		} else {
			c.refuse(CodeBadRequest, "chat is shutting down; reconnect in a moment")
		}
		return
	}
	h.clients[c.id] = c
	h.clientIPs[c.id] = clientIP
	c.enqueueLocked(h.welcomeLocked(c))
	h.mu.Unlock()
	h.notifyViewers()

	h.wg.Add(2)
	go c.writePump()
	go c.readPump()
}

func (h *Hub) ipLocked(ip string) *ipState {
	st := h.ips[ip]
	if st == nil {
		st = &ipState{limiter: rate.NewLimiter(h.RateLimit, h.RateBurst)}
		h.ips[ip] = st
	}
	return st
}

// releaseIPLocked drops one connection from ip's count. The per-IP limiter is
// forgotten with the last connection: reconnecting does not refill it faster
// than the per-connection limiter allows anyway.
func (h *Hub) releaseIPLocked(ip string) {
	st := h.ips[ip]
	if st == nil {
		return
	}
	st.conns--
	if st.conns <= 0 {
		delete(h.ips, ip)
	}
}

// removeLocked forgets c (idempotent) and stops its write pump.
func (h *Hub) removeLocked(c *client) {
	if h.clients[c.id] != c {
		return
	}
	delete(h.clients, c.id)
	h.releaseIPLocked(c.ip)
	c.stop()
	select {
	case h.viewersC <- struct{}{}:
	default:
	}
}

func (h *Hub) remove(c *client) {
	h.mu.Lock()
	h.removeLocked(c)
	h.mu.Unlock()
}

func (h *Hub) welcomeLocked(c *client) outFrame {
	hist := make([]chatFrame, 0, len(h.history))
	for _, m := range h.history {
		hist = append(hist, newChatFrame(m))
	}
	var talk any
	if h.Talks != nil {
		if _, t, ok := h.Talks.LiveOn(h.Stage); ok {
			talk = t
		}
	}
	return h.prepare(welcomeFrame{
		Type:    "welcome",
		You:     you{ID: c.id, Name: c.name},
		History: hist,
		Talk:    talk,
		Viewers: len(h.clients),
	})
}

// prepare encodes v once as a text frame that any number of clients can send.
func (h *Hub) prepare(v any) outFrame {
	b, err := json.Marshal(v)
	if err != nil {
		// Only TalkChanged's caller-supplied talk can fail to encode.
		h.Log.Error("encode chat frame", "err", err)
		b, _ = json.Marshal(errorFrame{Type: "error", Code: CodeBadRequest, Message: "server could not encode a frame"})
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		h.Log.Error("prepare chat frame", "err", err)
	}
	return outFrame{msg: pm}
}

// broadcastLocked queues f for every client; a client whose queue is full is
// dropped rather than allowed to hold the room back.
func (h *Hub) broadcastLocked(f outFrame) {
	for _, c := range h.clients {
		if !c.enqueueLocked(f) {
			h.Log.Info("viewer too slow, dropped", "client", c.id, "ip", c.ip, "queue", h.SendQueue)
			h.removeLocked(c)
		}
	}
}

func (h *Hub) broadcast(v any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.broadcastLocked(h.prepare(v))
}

func (h *Hub) notifyViewers() {
	select {
	case h.viewersC <- struct{}{}:
	default:
	}
}

// runViewers pushes the viewer count when it changes, at most once a second.
func (h *Hub) runViewers() {
	defer h.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.viewersC:
		}
		h.mu.Lock()
		if n := len(h.clients); n != h.lastViewers && !h.closed {
			h.lastViewers = n
			h.broadcastLocked(h.prepare(viewersFrame{Type: "viewers", Count: n}))
		}
		h.mu.Unlock()
		t.Reset(time.Second)
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// post stores and broadcasts a message from c, or says why not.
func (h *Hub) post(c *client, text string, question bool) *frameError {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	if h.isBannedLocked(c) {
		return &frameError{CodeBanned, "you are banned from this chat"}
	}
	now := h.Now().UTC()
	if h.slowMode > 0 && !c.lastPost.IsZero() && now.Sub(c.lastPost) < h.slowMode {
		wait := h.slowMode - now.Sub(c.lastPost)
		return &frameError{CodeRateLimited, fmt.Sprintf("slow mode: one message every %v; wait %v", h.slowMode, wait.Round(time.Second))}
	}
	if !c.lim.AllowN(now, 1) {
		return &frameError{CodeRateLimited, "too many messages; wait a moment"}
	}
	if st := h.ips[c.ip]; st != nil && !st.limiter.AllowN(now, 1) {
		return &frameError{CodeRateLimited, "too many messages from your network; wait a moment"}
	}
	c.lastPost = now
	m := &Message{
		ID:       newID(),
		ClientID: c.id,
		Name:     c.name,
		Text:     text,
		Time:     now,
		Question: question,
	}
	if h.Talks != nil {
		if id, _, ok := h.Talks.LiveOn(h.Stage); ok {
			m.Talk = id
		}
	}
	h.appendLocked(m)
	h.broadcastLocked(h.prepare(newChatFrame(m)))
	return nil
}

func (h *Hub) appendLocked(m *Message) {
	h.log = append(h.log, m)
	h.byID[m.ID] = m
	if over := len(h.log) - h.MaxLog; over > 0 {
		for _, old := range h.log[:over] {
			delete(h.byID, old.ID)
			delete(h.voters, old.ID)
		}
		h.log = append(h.log[:0:0], h.log[over:]...)
	}
	h.history = append(h.history, m)
	if over := len(h.history) - h.History; over > 0 {
		h.history = append(h.history[:0:0], h.history[over:]...)
	}
}

// vote records c's vote for a question; a second vote by the same client is a no-op.
func (h *Hub) vote(c *client, id string) *frameError {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.isBannedLocked(c) {
		return &frameError{CodeBanned, "you are banned from this chat"}
	}
	m := h.byID[id]
	if m == nil || m.Deleted || !m.Question {
		return &frameError{CodeBadRequest, "no such question"}
	}
	vs := h.voters[id]
	if vs == nil {
		vs = make(map[string]struct{})
		h.voters[id] = vs
	}
	if _, ok := vs[c.id]; ok {
		return nil
	}
	vs[c.id] = struct{}{}
	m.Votes = len(vs)
	h.broadcastLocked(h.prepare(votesFrame{Type: "votes", ID: id, Count: m.Votes}))
	return nil
}

func (h *Hub) hello(c *client, name string) {
	h.mu.Lock()
	c.name = name
	h.mu.Unlock()
}

func (h *Hub) isBannedLocked(c *client) bool {
	if _, ok := h.bannedIDs[c.id]; ok {
		return true
	}
	_, ok := h.bannedIPs[c.ip]
	return ok
}

// Delete removes message id from everyone's view ({"type":"delete","id"}) and
// from the history; the log keeps it marked Deleted.
func (h *Hub) Delete(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.byID[id]
	if m == nil {
		return fmt.Errorf("delete chat message %q on stage %s: %w", id, h.Stage, ErrNotFound)
	}
	if m.Deleted {
		return nil
	}
	m.Deleted = true
	for i, hm := range h.history {
		if hm == m {
			h.history = append(h.history[:i:i], h.history[i+1:]...)
			break
		}
	}
	h.broadcastLocked(h.prepare(idFrame{Type: "delete", ID: id}))
	h.Log.Info("chat message deleted", "id", id, "client", m.ClientID)
	return nil
}

// Ban bans a client by its connection id and its IP for the hub's life. Every
// connection from that IP gets {"type":"error","code":"banned"} and is
// disconnected, and new connections from it are refused the same way. Note
// that a venue's viewers may share one NAT address.
func (h *Hub) Ban(clientID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ip, ok := h.clientIPs[clientID]
	if !ok {
		return fmt.Errorf("ban chat client %q on stage %s: %w", clientID, h.Stage, ErrNotFound)
	}
	h.bannedIDs[clientID] = struct{}{}
	h.bannedIPs[ip] = struct{}{}
	f := h.prepare(errorFrame{Type: "error", Code: CodeBanned, Message: "you are banned from this chat"})
	for _, c := range h.clients {
		if c.ip != ip && c.id != clientID {
			continue
		}
		if !c.enqueueLocked(f) || !c.enqueueLocked(outFrame{closeCode: websocket.ClosePolicyViolation, closeText: "banned"}) {
			h.removeLocked(c)
		}
	}
	h.Log.Info("chat client banned", "client", clientID, "ip", ip)
	return nil
}

// SetSlowMode sets the minimum time between one viewer's messages; 0 turns it off.
func (h *Hub) SetSlowMode(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.mu.Lock()
	h.slowMode = d
	h.mu.Unlock()
	h.Log.Info("chat slow mode", "interval", d)
}

// TalkChanged tells every viewer the live talk changed ({"type":"talk","talk":talk});
// talk nil means no talk is live. New messages are stamped through Talks.
func (h *Hub) TalkChanged(talk any) {
	h.broadcast(talkFrame{Type: "talk", Talk: talk})
}

// Viewers is the number of connected viewers.
func (h *Hub) Viewers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Messages returns copies of the logged messages with since ≤ Time < until,
// oldest first, deleted ones included and marked; for archiving a talk's
// slice. A zero until means no upper bound.
func (h *Hub) Messages(since, until time.Time) []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Message
	for _, m := range h.log {
		if m.Time.Before(since) || (!until.IsZero() && !m.Time.Before(until)) {
			continue
		}
		out = append(out, *m)
	}
	return out
}

// newID returns a short random id (12 hex digits): unique enough within a
// stage's day, and not guessable, so a client id cannot be spoofed into a ban.
func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
