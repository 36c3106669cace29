package chat

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
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
	queue []outFrame    // frames for the write pump, oldest first; at most hub.SendQueue
	wake  chan struct{} // capacity 1: the flusher's call to write the queue

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

// runFlusher wakes the write pumps of the clients with queued frames, at most
// once per flushInterval.
func (h *Hub) runFlusher() {
	defer h.wg.Done()
	var round []*client
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.flushC:
		}
		h.mu.Lock()
		round, h.dirty = h.dirty, round[:0]
		h.mu.Unlock()
		for _, c := range round {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		clear(round)
		if cap(round) > 1024 && len(round) < cap(round)/4 {
			round = nil
		}
		t.Reset(flushInterval)
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
	}
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

// writePump writes queued frames and pings until the client is stopped, asks
// to close, or the hub closes. Each wake-up takes every queued frame at once,
// so a viewer that fell behind catches up in a few large writes instead of
// one system call per frame.
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
			c.qmu.Lock()
			batch, c.queue = c.queue, batch[:0]
			c.qmu.Unlock()
			if !c.writeBatch(batch) {
				return
			}
			clear(batch) // drop the frames' references
			if cap(batch) > 16 {
				batch = nil // a burst: do not keep its backing array
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

// writeBatch writes frames in order, several of them with one write to the
// socket; false when the connection must end.
func (c *client) writeBatch(batch []outFrame) bool {
	h := c.hub
	_ = c.conn.SetWriteDeadline(time.Now().Add(h.WriteTimeout))
	gather := len(batch) > 1 && c.out != nil
	if gather {
		c.out.hold(&h.batchBufs)
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

// batchWriter hands gorilla a batchConn when it hijacks the connection.
type batchWriter struct{ http.ResponseWriter }

func (w batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("chat: the server's ResponseWriter cannot be hijacked (HTTP/2?); websockets need HTTP/1.1")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: conn}, brw, nil
}

// batchConn lets the write pump gather the frames gorilla writes one by one
// into a single write to the socket. Between hold and release, writes (the
// pump's frames, and a pong the read pump may send meanwhile) are appended to
// a pooled buffer, and write deadlines are remembered rather than applied.
// The wire carries exactly the frames gorilla encoded, in order.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	buf      *[]byte   // non-nil while held
	deadline time.Time // latest deadline asked for while held
	applied  time.Time // write deadline set on Conn
}

// deadlineSlack: a new write deadline less than this after the one already
// set on the socket is not applied; re-arming the socket's timer for every
// frame costs more than the precision is worth (WriteTimeout is 10 s).
const deadlineSlack = time.Second

func (b *batchConn) hold(pool *sync.Pool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bp, _ := pool.Get().(*[]byte)
	if bp == nil {
		s := make([]byte, 0, 4096)
		bp = &s
	}
	b.buf = bp
	b.deadline = time.Time{}
}

// release writes what was gathered and returns to direct writes.
func (b *batchConn) release(pool *sync.Pool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	bp := b.buf
	b.buf = nil
	if cap(*bp) <= maxBatch*2 {
		*bp = (*bp)[:0]
		pool.Put(bp)
	}
	return err
}

func (b *batchConn) flushLocked() error {
	if len(*b.buf) == 0 {
		return nil
	}
	if !b.deadline.IsZero() {
		if err := b.setDeadlineLocked(b.deadline); err != nil {
			return err
		}
	}
	_, err := b.Conn.Write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return b.Conn.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= maxBatch {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return b.setDeadlineLocked(t)
	}
	if t.After(b.deadline) {
		b.deadline = t // the latest: a pong's short deadline must not cut the batch short
	}
	return nil
}

func (b *batchConn) setDeadlineLocked(t time.Time) error {
	if !t.IsZero() && !b.applied.IsZero() && !t.Before(b.applied) && t.Sub(b.applied) < deadlineSlack {
		return nil
	}
	b.applied = t
	return b.Conn.SetWriteDeadline(t)
}
