package chat

import (
	"bytes"
	"net"
	"strconv"
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
		e.hub.TalkChanged(map[string]any{"n": i})
	}
	for i := range n {
		f := slow.until(func(f frame) bool { return f.str("type") == "talk" })
		if got := f["talk"].(map[string]any)["n"]; got != float64(i) {
			t.Fatalf("talk frame %d carries n=%v", i, got)
		}
	}
}
