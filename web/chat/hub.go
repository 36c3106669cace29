// Package chat is the live chat of one stage: a websocket hub that keeps the
// recent history, stamps each message with the talk live at that moment,
// fans messages out without letting a slow viewer stall the room, and gives
// the organiser moderation (delete, ban, slow mode).
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
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

	MaxText       int        // characters per message, default 500
	MaxName       int        // characters per name, default 32
	History       int        // messages sent on join, default 100
	MaxLog        int        // messages kept for Messages (archiving), default 100000
	RateLimit     rate.Limit // messages per second per connection and per IP, default 1.5 (3 per 2 s)
	RateBurst     int        // default 3
	MaxConnsPerIP int        // default 20
	// SharedNets are addresses many people share, such as the venue's NAT
	// when salon is hosted elsewhere: viewers from them get the
	// per-connection limits only (no per-address connection cap or message
	// rate), and an IP ban there bans the connection and browser, not the
	// address.
	SharedNets []netip.Prefix
	SendQueue  int           // frames queued per client before it is dropped, default 64
	MaxFrame   int64         // bytes per client frame, default 4096; larger closes the connection
	SlowMode   time.Duration // minimum time between one viewer's messages; 0 is off
	// PingInterval is how often viewers are pinged, default 10 s. A viewer
	// that neither answers nor sends for 2×PingInterval is dropped: a page
	// that stopped reading cannot answer, so its backlog (in the kernel's
	// socket buffer, not salon's memory) lives at most that long.
	PingInterval time.Duration
	WriteTimeout time.Duration // default 10 s
	MaxQuestions int           // recent questions sent on join, default 200

	// Logs, when set, opens the stage's log (roomlog.go): a replicated one
	// shared by the nodes of a cluster. Else JournalPath is the stage's
	// chat journal on local disk (journal.go); with neither, the chat is
	// kept in memory only. FlushEvery is the journal's batch interval,
	// default 500 ms: what a crash can lose.
	Logs RoomLogs
	// TalksFromLog makes the talk live on the stage what the log says
	// (TalkChanged commits it; hub_talk.go) rather than what Talks says
	// here: on a cluster, the programme that started the talk may run on
	// another node.
	TalksFromLog bool
	JournalPath  string
	FlushEvery   time.Duration
	// BanFor is how long a ban restored from the journal lasts after it was
	// made ("the rest of the day"), default 24 h. Bans made since start last
	// for the hub's life.
	BanFor time.Duration

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

	mu            sync.Mutex
	closed        bool
	clients       map[string]*client // by client id
	ips           map[string]*ipState
	bannedIDs     map[string]struct{}
	bannedViewers map[string]struct{}
	bannedIPs     map[string]struct{}
	roomLog       RoomLog    // set once by Initialize; its deliveries change the state below
	replayed      int        // records delivered while opening the log
	badRecords    int        // records that did not decode, while opening the log
	opened        bool       // the log's replay is done
	history       []*Message // newest last, deleted ones removed, at most History
	questions     []*Message // newest last, at most MaxQuestions
	slides        []Slide    // page changes, oldest first, at most MaxLog
	log           []*Message // newest last, at most MaxLog
	byID          map[string]*Message
	voters        map[string]map[string]struct{} // message id → hashed voter keys (votes.go)
	clientIPs     map[string]string              // client id → IP, for banning authors who left
	viewerOf      map[string]string              // client id → viewer key, for the same
	slowMode      time.Duration
	lastViewers   int
	onScreen      string          // id of the question on the room's screen; "" for none
	talkID        string          // with TalksFromLog: the live talk, "" for none
	talkView      json.RawMessage // with TalksFromLog: what pages get of it
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
	h.Log = h.Log.With("stage", h.Stage)
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
	setDefault(&h.MaxQuestions, 200)
	if h.BanFor <= 0 {
		h.BanFor = 24 * time.Hour
	}
	if h.RateLimit == 0 {
		h.RateLimit = rate.Every(2 * time.Second / 3)
	}
	if h.MaxFrame <= 0 {
		h.MaxFrame = 4096
	}
	if h.PingInterval <= 0 {
		h.PingInterval = 10 * time.Second
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
	h.bannedViewers = make(map[string]struct{})
	h.bannedIPs = make(map[string]struct{})
	h.byID = make(map[string]*Message)
	h.voters = make(map[string]map[string]struct{})
	h.clientIPs = make(map[string]string)
	h.viewerOf = make(map[string]string)
	h.viewersC = make(chan struct{}, 1)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if err := h.openLog(); err != nil {
		h.cancel()
		return fmt.Errorf("chat hub %s: %w", h.Stage, err)
	}

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
	if err := h.roomLog.Close(); err != nil {
		h.Log.Error("chat log not fully written at shutdown", "err", err)
	}
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
	if st := h.ips[clientIP]; st != nil && st.conns >= h.MaxConnsPerIP && !h.shared(clientIP) {
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
	qs := make([]chatFrame, 0, len(h.questions))
	for _, m := range h.questions {
		if !m.Deleted {
			qs = append(qs, newChatFrame(m))
		}
	}
	var talk any
	if _, t, ok := h.liveTalkLocked(); ok {
		talk = t
	}
	return h.prepare(welcomeFrame{
		Type:      "welcome",
		You:       you{ID: c.id, Name: c.name},
		History:   hist,
		Questions: qs,
		Slide:     h.currentSlideLocked(),
		Talk:      talk,
		Viewers:   len(h.clients),
		OnScreen:  h.onScreenFrameLocked().Question,
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

// Viewers is the number of connected viewers.
func (h *Hub) Viewers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}
