package chat

import (
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// hardReadLimit is gorilla's own frame limit, a backstop above MaxFrame: frames
// between the two are refused by readPump with a close reason naming MaxFrame.
// gorilla reads a frame's payload on demand, so a large limit costs no memory.
const hardReadLimit = 1 << 20

// closeGrace is how long a connection waits for the peer's close reply
// after sending a close frame, before dropping the TCP connection.
const closeGrace = 2 * time.Second

// maxBatch bounds the bytes the write pump gathers before it writes them: a
// viewer that fell behind gets its queued frames in writes of up to this size.
const maxBatch = 64 << 10

// flushInterval is the least time between two rounds of the hub's flusher,
// which wakes the write pumps of every viewer with queued frames. Frames
// queued in between go out together, one socket write per viewer per round.
//
// Waking each viewer's pump for each message would cost a goroutine wake-up
// and a system call per message and viewer; worse, in a busy room thousands
// of runnable pumps delay the read pumps that bring the next messages in, so
// every message starts its own round and the room falls behind for good (we
// measured seconds of delay at 5,000 viewers × 50 msg/s). With rounds, a round
// that takes long simply carries more messages. A person does not notice
// 25 ms, and a quiet room is not delayed: the first frame after a pause starts
// a round at once.
const flushInterval = 25 * time.Millisecond

// outFrame is one queued frame: an encoded message, or (closeCode != 0) a
// request to close the connection after the frames queued before it.
type outFrame struct {
	msg       *websocket.PreparedMessage
	closeCode int
	closeText string
}

// client is one viewer's connection, run by two goroutines of the hub: the
// read pump and the write pump. name and lastPost are guarded by the hub's
// mutex, and lim is used only under it; the queue by qmu.
//
// An idle viewer holds no buffer beyond gorilla's small read buffer: the
// handler's goroutine and net/http's request buffers are gone once ServeWS
// returns, frames are read into pooled buffers, and the queue is a slice that
// grows only while frames wait.
type client struct {
	hub  *Hub
	conn *websocket.Conn
	out  *batchConn // conn's network connection; nil when the server's ResponseWriter was not wrapped
	id   string
	ip   string
	quit chan struct{} // closed by stop: the hub forgot this client
	once sync.Once
	lim  *rate.Limiter

	qmu   sync.Mutex
	queue []outFrame    // frames not yet taken by a writer, oldest first; at most hub.SendQueue
	wake  chan struct{} // capacity 1: the call to the write pump to write the queue
	// writing: a flusher worker or the write pump is writing frames taken
	// from queue; only the owner writes frames. handoff: a worker passed its
	// ownership (and the frames in handed, if any) to the write pump, because
	// the socket would block or a frame closes the connection.
	writing  bool
	handoff  bool
	handed   []outFrame
	handoffs int // hand-offs so far, for tests

	name     string
	viewer   string // the browser's viewer key, from hello; "" until then
	lastPost time.Time
}

func newClient(h *Hub, conn *websocket.Conn, ip string) *client {
	c := &client{
		hub:  h,
		conn: conn,
		id:   newID(),
		ip:   ip,
		quit: make(chan struct{}),
		wake: make(chan struct{}, 1),
		lim:  rate.NewLimiter(h.RateLimit, h.RateBurst),
	}
	c.out, _ = conn.NetConn().(*batchConn)
	// Started with the first viewer, under ServeWS's hold on the hub's
	// WaitGroup, so Close waits for it.
	h.flushOnce.Do(func() {
		h.flushC = make(chan struct{}, 1)
		h.wg.Add(1)
		go h.runFlusher()
	})
	return c
}

// runFlusher writes the queued frames of the clients with some, at most once
// per flushInterval: the round's clients are split among a few goroutines
// (one per CPU) that write each client's frames with one non-blocking socket
// write. Only a client whose socket would block is handed to its own write
// pump, which waits for the socket.
//
// Waking every client's write pump instead cost a goroutine switch per viewer
// and round on top of the write itself, and left thousands of runnable pumps
// queued in front of the read pumps and of each other: at 10,000 viewers ×
// 10 msg/s the last viewers of a round got the message hundreds of ms after
// the first.
func (h *Hub) runFlusher() {
	defer h.wg.Done()
	var round []*client
	t := time.NewTimer(time.Hour)
	t.Stop()
	workers := min(max(runtime.GOMAXPROCS(0), 1), maxFlushWorkers)
	var wg sync.WaitGroup
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.flushC:
		}
		t.Reset(flushInterval)
		h.mu.Lock()
		round, h.dirty = h.dirty, round[:0]
		h.mu.Unlock()
		// Chunks of at least minFlushChunk clients: a small round is not
		// worth another goroutine.
		n := min(workers, (len(round)+minFlushChunk-1)/minFlushChunk)
		for k := 1; k < n; k++ {
			part := round[k*len(round)/n : (k+1)*len(round)/n]
			wg.Go(func() { h.writeRound(part) })
		}
		h.writeRound(round[:len(round)/max(n, 1)])
		wg.Wait()
		clear(round)
		if cap(round) > 1024 && len(round) < cap(round)/4 {
			round = nil
		}
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxFlushWorkers bounds the goroutines writing one round; minFlushChunk is
// the fewest clients worth a goroutine of their own.
const (
	maxFlushWorkers = 8
	minFlushChunk   = 256
)

// writeRound writes each client's queued frames without blocking.
func (h *Hub) writeRound(cs []*client) {
	var batch []outFrame
	for _, c := range cs {
		batch = c.flushNow(batch)
	}
}

// flushNow takes c's queued frames and writes them with one non-blocking
// write; what the socket does not take at once, and any close request, goes
// to c's write pump. batch is scratch space, returned for reuse.
func (c *client) flushNow(batch []outFrame) []outFrame {
	h := c.hub
	// A stopped client is not checked for: its socket is closed, so the write
	// fails at once, and reading c.quit for each of 10,000 clients per round
	// cost a cache miss each (4 % of salon's CPU).
	c.qmu.Lock()
	if c.writing || len(c.queue) == 0 {
		// The write pump owns the writes; it takes the queue when it is done.
		c.qmu.Unlock()
		return batch
	}
	c.writing = true
	batch, c.queue = c.queue, batch[:0]
	c.qmu.Unlock()

	direct := c.out != nil && c.out.raw != nil
	for _, f := range batch {
		if f.closeCode != 0 {
			direct = false
		}
	}
	if !direct || !c.out.tryHold(&h.batchBufs) {
		// The pump writes these: it may block.
		return c.handOff(batch)
	}
	for _, f := range batch {
		if f.msg == nil {
			continue
		}
		if err := c.conn.WritePreparedMessage(f.msg); err != nil {
			h.Log.Debug("chat write failed", "client", c.id, "err", err)
			_, _ = c.out.tryRelease(&h.batchBufs)
			c.conn.Close() // ends the read pump, which forgets c
			return recycle(batch)
		}
	}
	wouldBlock, err := c.out.tryRelease(&h.batchBufs)
	switch {
	case err != nil:
		h.Log.Debug("chat write failed", "client", c.id, "err", err)
		c.conn.Close()
	case wouldBlock:
		return c.handOff(recycle(batch))
	default:
		c.qmu.Lock()
		c.writing = false // frames queued meanwhile made c dirty again
		c.qmu.Unlock()
	}
	return recycle(batch)
}

// handOff passes the writing to c's write pump, with frames not yet written
// (batch, possibly empty); it returns a fresh scratch slice, as batch is now
// the pump's.
func (c *client) handOff(batch []outFrame) []outFrame {
	c.qmu.Lock()
	c.handoff = true
	c.handoffs++
	if len(batch) > 0 {
		c.handed = batch
		batch = nil
	}
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return batch
}

// recycle clears batch's references for reuse.
func recycle(batch []outFrame) []outFrame {
	clear(batch)
	if cap(batch) > 64 {
		return nil
	}
	return batch[:0]
}

// enqueueLocked queues f without blocking; false when the queue is full.
// Called with the hub's mutex held, which also orders it against stop.
func (c *client) enqueueLocked(f outFrame) bool {
	select {
	case <-c.quit:
		return true // already gone; nothing to do
	default:
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queue) >= c.hub.SendQueue {
		return false
	}
	c.queue = append(c.queue, f)
	if len(c.queue) == 1 {
		h := c.hub
		h.dirty = append(h.dirty, c)
		if len(h.dirty) == 1 {
			select {
			case h.flushC <- struct{}{}:
			default:
			}
		}
	}
	return true
}

// stop ends the connection at once: the hub has forgotten c, because its
// read side ended or it fell too far behind. Closing the socket also frees a
// write pump blocked on a viewer that stopped reading.
func (c *client) stop() {
	c.once.Do(func() {
		close(c.quit)
		c.conn.Close()
	})
}

// refuse sends one error frame and closes a connection that never joined.
func (c *client) refuse(code, msg string) {
	defer c.conn.Close()
	deadline := time.Now().Add(c.hub.WriteTimeout)
	_ = c.conn.SetWriteDeadline(deadline)
	if err := c.conn.WriteJSON(errorFrame{Type: "error", Code: code, Message: msg}); err != nil {
		return
	}
	c.closeAndDrain(websocket.ClosePolicyViolation, code)
}

// closeAndDrain sends a close frame and reads until the peer answers (or
// closeGrace passes), so the peer sees the close frame rather than a reset.
// Only the read side's goroutine may call it.
func (c *client) closeAndDrain(code int, reason string) {
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(c.hub.WriteTimeout))
	_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			return
		}
	}
}

// readPump reads the viewer's frames until the connection ends.
func (c *client) readPump() {
	h := c.hub
	defer h.wg.Done()
	defer func() {
		h.remove(c)
		c.conn.Close()
	}()
	c.conn.SetReadLimit(hardReadLimit)
	pongWait := 2 * h.PingInterval
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		typ, r, err := c.conn.NextReader()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
				!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				h.Log.Debug("chat connection ended", "client", c.id, "err", err)
			}
			return
		}
		if !c.readFrame(typ, r) {
			return
		}
	}
}

// readFrame reads and handles one frame into a pooled buffer; false when the
// connection must end.
func (c *client) readFrame(typ int, r io.Reader) bool {
	h := c.hub
	bp, _ := h.frameBufs.Get().(*[]byte)
	if bp == nil || int64(cap(*bp)) < h.MaxFrame+1 {
		b := make([]byte, h.MaxFrame+1)
		bp = &b
	}
	defer h.frameBufs.Put(bp)
	buf := (*bp)[:h.MaxFrame+1]
	n, err := io.ReadFull(r, buf)
	switch {
	case int64(n) > h.MaxFrame:
		c.closeAndDrain(websocket.CloseMessageTooBig, "frame larger than "+strconv.FormatInt(h.MaxFrame, 10)+" bytes")
		return false
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		return false
	}
	// Any activity proves the peer alive, as a pong does.
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * h.PingInterval))
	if typ != websocket.TextMessage {
		c.reply(CodeBadRequest, "send JSON text frames, not binary")
		return true
	}
	c.handle(buf[:n]) // decodeFrame copies what it keeps
	return true
}

func (c *client) handle(data []byte) {
	h := c.hub
	f, ferr := decodeFrame(data, h.MaxText, h.MaxName)
	if ferr == nil {
		switch f.Kind {
		case "hello":
			h.hello(c, f.Name, f.Viewer)
		case "chat", "question":
			ferr = h.post(c, f.Text, f.Kind == "question")
		case "vote":
			ferr = h.vote(c, f.ID)
		}
	}
	if ferr != nil {
		c.reply(ferr.Code, ferr.Message)
	}
}

// reply queues an error frame for this client only.
func (c *client) reply(code, msg string) {
	h := c.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.enqueueLocked(h.prepare(errorFrame{Type: "error", Code: code, Message: msg})) {
		h.removeLocked(c)
	}
}

// writePump writes pings, and the frames the flusher hands it because the
// socket would block or a frame closes the connection, until the client is
// stopped, asks to close, or the hub closes. It takes every queued frame at
// once, so a viewer that fell behind catches up in a few large writes
// instead of one system call per frame.
func (c *client) writePump() {
	h := c.hub
	defer h.wg.Done()
	defer c.conn.Close() // also ends readPump
	ping := time.NewTicker(h.PingInterval)
	defer ping.Stop()
	var batch []outFrame
	for {
		select {
		case <-c.wake:
			var ok bool
			if batch, ok = c.pumpWrites(batch); !ok {
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.WriteTimeout)); err != nil {
				return
			}
		case <-c.quit:
			return
		case <-h.ctx.Done():
			c.closeGracefully(websocket.CloseGoingAway, "server shutting down")
			return
		}
	}
}

// pumpWrites writes what a worker handed over, then the queue, until it is
// empty; false when the connection must end. A wake-up without a hand-off
// (a client whose writes cannot be gathered) takes the queue if no worker
// is writing.
func (c *client) pumpWrites(batch []outFrame) ([]outFrame, bool) {
	c.qmu.Lock()
	switch {
	case c.handoff:
		c.handoff = false
		if c.handed != nil {
			batch, c.handed = c.handed, nil
		}
	case c.writing:
		c.qmu.Unlock() // a worker is writing; it hands over if it must
		return batch, true
	default:
		c.writing = true
	}
	for {
		batch = append(batch, c.queue...)
		clear(c.queue)
		c.queue = c.queue[:0]
		c.qmu.Unlock()
		if !c.writeBatch(batch) {
			return nil, false
		}
		clear(batch) // drop the frames' references
		batch = batch[:0]
		if cap(batch) > 16 {
			batch = nil // a burst: do not keep its backing array
		}
		c.qmu.Lock()
		if len(c.queue) == 0 {
			c.writing = false
			c.qmu.Unlock()
			return batch, true
		}
	}
}

// writeBatch writes frames in order, several of them with one write to the
// socket; false when the connection must end.
func (c *client) writeBatch(batch []outFrame) bool {
	h := c.hub
	deadline := time.Now().Add(h.WriteTimeout)
	_ = c.conn.SetWriteDeadline(deadline)
	// Gather several frames into one write; bytes a worker left unwritten
	// (batchConn keeps them) go first either way.
	gather := c.out != nil && (len(batch) > 1 || c.out.hasPending())
	if gather {
		c.out.hold(&h.batchBufs)
		_ = c.out.SetWriteDeadline(deadline) // also for pending bytes alone
	}
	for _, f := range batch {
		if f.closeCode != 0 {
			if gather {
				if err := c.out.release(&h.batchBufs); err != nil {
					return false
				}
			}
			c.closeGracefully(f.closeCode, f.closeText)
			return false
		}
		if f.msg == nil {
			continue
		}
		if err := c.conn.WritePreparedMessage(f.msg); err != nil {
			h.Log.Debug("chat write failed", "client", c.id, "err", err)
			if gather {
				_ = c.out.release(&h.batchBufs)
			}
			return false
		}
	}
	if gather {
		if err := c.out.release(&h.batchBufs); err != nil {
			h.Log.Debug("chat write failed", "client", c.id, "err", err)
			return false
		}
	}
	return true
}

// closeGracefully sends a close frame, then gives the read pump closeGrace to
// see the peer's reply and end on its own.
func (c *client) closeGracefully(code int, reason string) {
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(c.hub.WriteTimeout))
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.quit:
	case <-t.C:
	}
}
