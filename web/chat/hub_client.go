package chat

import (
	"errors"
	"io"
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

// outFrame is one queued frame: an encoded message, or (closeCode != 0) a
// request to close the connection after the frames queued before it.
type outFrame struct {
	msg       *websocket.PreparedMessage
	closeCode int
	closeText string
}

// client is one viewer's connection. The read pump runs in ServeWS's
// goroutine, the write pump in its own. name and lastPost are guarded by the
// hub's mutex; lim is used only under it too.
type client struct {
	hub  *Hub
	conn *websocket.Conn
	id   string
	ip   string
	send chan outFrame
	quit chan struct{} // closed by stop: the hub forgot this client
	once sync.Once
	lim  *rate.Limiter

	name     string
	viewer   string // the browser's viewer key, from hello; "" until then
	lastPost time.Time
}

// enqueueLocked queues f without blocking; false when the queue is full.
// Called with the hub's mutex held, which also orders it against stop.
func (c *client) enqueueLocked(f outFrame) bool {
	select {
	case <-c.quit:
		return true // already gone; nothing to do
	default:
	}
	select {
	case c.send <- f:
		return true
	default:
		return false
	}
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
	buf := make([]byte, h.MaxFrame+1)
	for {
		typ, r, err := c.conn.NextReader()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
				!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				h.Log.Debug("chat connection ended", "client", c.id, "err", err)
			}
			return
		}
		n, err := io.ReadFull(r, buf)
		switch {
		case int64(n) > h.MaxFrame:
			c.closeAndDrain(websocket.CloseMessageTooBig, "frame larger than "+strconv.FormatInt(h.MaxFrame, 10)+" bytes")
			return
		case err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
			return
		}
		// Any activity proves the peer alive, as a pong does.
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		if typ != websocket.TextMessage {
			c.reply(CodeBadRequest, "send JSON text frames, not binary")
			continue
		}
		c.handle(buf[:n])
	}
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
// to close, or the hub closes.
func (c *client) writePump() {
	h := c.hub
	defer h.wg.Done()
	defer c.conn.Close() // also ends readPump
	ping := time.NewTicker(h.PingInterval)
	defer ping.Stop()
	for {
		select {
		case f := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(h.WriteTimeout))
			if f.closeCode != 0 {
				c.closeGracefully(f.closeCode, f.closeText)
				return
			}
			if f.msg == nil {
				continue
			}
			if err := c.conn.WritePreparedMessage(f.msg); err != nil {
				h.Log.Debug("chat write failed", "client", c.id, "err", err)
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
