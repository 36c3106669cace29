package chat

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// countConn records the writes that reach the socket.
type countConn struct {
	net.Conn
	writes   [][]byte
	deadline time.Time
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countConn) SetWriteDeadline(t time.Time) error { c.deadline = t; return nil }

func TestBatchConn_gathers(t *testing.T) {
	cc := &countConn{}
	b := &batchConn{Conn: cc}
	var pool sync.Pool

	if _, err := b.Write([]byte("direct")); err != nil {
		t.Fatal(err)
	}
	b.hold(&pool)
	late := time.Now().Add(time.Hour)
	_ = b.SetWriteDeadline(late)
	_ = b.SetWriteDeadline(time.Now().Add(time.Second)) // a pong's short deadline
	for i := range 3 {
		if _, err := b.Write([]byte("f" + strconv.Itoa(i) + ";")); err != nil {
			t.Fatal(err)
		}
	}
	if len(cc.writes) != 1 {
		t.Fatalf("%d writes reached the socket while held, want 1 (the direct one)", len(cc.writes))
	}
	if err := b.release(&pool); err != nil {
		t.Fatal(err)
	}
	if len(cc.writes) != 2 || string(cc.writes[1]) != "f0;f1;f2;" {
		t.Fatalf("writes = %q, want direct then one gathered write", cc.writes)
	}
	if !cc.deadline.Equal(late) {
		t.Errorf("flush deadline %v, want the latest one set while held (%v)", cc.deadline, late)
	}
	// Back to direct writes; an empty hold writes nothing.
	b.hold(&pool)
	if err := b.release(&pool); err != nil || len(cc.writes) != 2 {
		t.Errorf("empty hold: %d writes, err %v", len(cc.writes), err)
	}
	_, _ = b.Write([]byte("x"))
	if len(cc.writes) != 3 {
		t.Errorf("write after release not direct")
	}
}

func TestBatchConn_flushesLargeBatches(t *testing.T) {
	cc := &countConn{}
	b := &batchConn{Conn: cc}
	var pool sync.Pool
	b.hold(&pool)
	frame := bytes.Repeat([]byte("y"), 1000)
	total := 0
	for total < 3*maxBatch {
		_, _ = b.Write(frame)
		total += len(frame)
	}
	_ = b.release(&pool)
	got := 0
	for _, w := range cc.writes {
		if len(w) > maxBatch+len(frame) {
			t.Errorf("a write of %d bytes, over maxBatch", len(w))
		}
		got += len(w)
	}
	if got != total || len(cc.writes) < 3 {
		t.Errorf("%d bytes in %d writes, want %d bytes in ≥ 3", got, len(cc.writes), total)
	}
}

// A viewer that falls behind gets every queued frame, intact and in order,
// when the write pump gathers them.
func TestHub_writePump_behindGetsAllInOrder(t *testing.T) {
	e := newEnv(t, nil)
	slow := e.dial(t, "")
	e.hub.mu.Lock()
	for _, c := range e.hub.clients {
		if c.out == nil {
			t.Error("client's connection is not a batchConn: its writes cannot be gathered")
		}
	}
	e.hub.mu.Unlock()
	// Not reading: queue frames faster than one write each.
	const n = 40
	for i := range n {
		e.hub.TalkChanged("t", map[string]any{"n": i})
	}
	for i := range n {
		f := slow.until(func(f frame) bool { return f.str("type") == "talk" })
		if got := f["talk"].(map[string]any)["n"]; got != float64(i) {
			t.Fatalf("talk frame %d carries n=%v", i, got)
		}
	}
}

// tcpPair is a connected loopback TCP pair: a real socket, whose send buffer
// fills when the peer does not read.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A non-blocking release that the socket cannot take whole leaves the rest
// pending; later writes queue behind it, a worker cannot hold again, and the
// pump's blocking release delivers every byte in order.
func TestBatchConn_tryReleaseKeepsOrder(t *testing.T) {
	server, client := tcpPair(t)
	b := newBatchConn(server)
	if b.raw == nil {
		t.Fatal("a TCP connection has no raw conn for non-blocking writes")
	}
	var pool sync.Pool
	var want bytes.Buffer
	chunk := make([]byte, 256<<10)
	blocked := false
	for i := 0; i < 400 && !blocked; i++ { // 100 MB at most
		if !b.tryHold(&pool) {
			t.Fatal("tryHold refused with nothing pending")
		}
		for j := range chunk {
			chunk[j] = byte(i + j/7)
		}
		_, _ = b.Write(chunk)
		want.Write(chunk)
		var err error
		if blocked, err = b.tryRelease(&pool); err != nil {
			t.Fatal(err)
		}
	}
	if !blocked {
		t.Fatal("the socket never filled although the peer does not read")
	}
	if !b.hasPending() {
		t.Fatal("no bytes pending after a blocked release")
	}
	if b.tryHold(&pool) {
		t.Fatal("a worker could hold a connection with pending bytes")
	}
	_, _ = b.Write([]byte("ping")) // a control frame meanwhile: after the pending bytes
	want.WriteString("ping")
	want.WriteString("next")

	got := make(chan []byte, 1)
	total := int64(want.Len())
	go func() {
		var buf bytes.Buffer
		_, _ = io.CopyN(&buf, client, total)
		got <- buf.Bytes()
	}()
	b.hold(&pool)
	_, _ = b.Write([]byte("next"))
	if err := b.release(&pool); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if !bytes.Equal(g, want.Bytes()) {
			t.Fatalf("peer got %d bytes, not the %d written in order", len(g), want.Len())
		}
	case <-time.After(waitFor):
		t.Fatal("peer did not receive everything")
	}
	if b.hasPending() {
		t.Error("bytes still pending after release")
	}
}

// A viewer whose socket fills is handed to its write pump, which waits for
// it; the viewer still gets every frame, intact and in order.
func TestHub_flusher_handsBlockedViewerToPump(t *testing.T) {
	e := newEnv(t, nil)
	slow := e.dial(t, "")
	const n = 40
	pad := strings.Repeat("z", 256<<10)
	for i := range n {
		e.hub.TalkChanged("t", map[string]any{"n": i, "pad": pad})
	}
	for i := range n {
		f := slow.until(func(f frame) bool { return f.str("type") == "talk" })
		if got := f["talk"].(map[string]any)["n"]; got != float64(i) {
			t.Fatalf("talk frame %d carries n=%v", i, got)
		}
		if got := f["talk"].(map[string]any)["pad"]; got != pad {
			t.Fatalf("talk frame %d damaged", i)
		}
	}
	handoffs := 0
	e.hub.mu.Lock()
	for _, c := range e.hub.clients {
		c.qmu.Lock()
		handoffs += c.handoffs
		c.qmu.Unlock()
	}
	e.hub.mu.Unlock()
	if handoffs == 0 {
		t.Error("10 MB to a viewer that was not reading never made a worker hand over to the pump")
	}
}
