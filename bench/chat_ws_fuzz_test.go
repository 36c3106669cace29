package bench

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
)

// serverFrame encodes an unmasked server frame, as the hub sends them.
func serverFrame(fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch l := len(p); {
	case l < 126:
		f = append(f, byte(l))
	case l < 1<<16:
		f = append(f, 126, byte(l>>8), byte(l))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(l))
	}
	return append(f, p...)
}

// parseAll runs wsConn.frames over stream in pieces of step bytes and
// returns what it handed out, "op:payload" each, and the first error.
func parseAll(stream []byte, step int) (got []string, partial int, err error) {
	c := &wsConn{fd: -1}
	for i := 0; i < len(stream); i += step {
		// frames may keep a reference to its input in c.partial only by
		// copying: pass a fresh slice each time, as a reader's buffer is
		// reused.
		piece := bytes.Clone(stream[i:min(i+step, len(stream))])
		if err := c.frames(piece, func(op byte, p []byte) {
			got = append(got, strconv.Itoa(int(op))+":"+string(p))
		}); err != nil {
			return got, len(c.partial), err
		}
		clear(piece) // a kept reference would now read zeros
	}
	return got, len(c.partial), nil
}

// FuzzWSConn_frames feeds the load tool's frame parser arbitrary server
// bytes: it never panics, and cutting the stream into reads of any size
// changes nothing — the same messages in the same order, the same error,
// the same incomplete tail.
func FuzzWSConn_frames(f *testing.F) {
	var valid []byte
	valid = append(valid, serverFrame(true, opText, []byte("hello"))...)
	valid = append(valid, serverFrame(true, opPing, nil)...)
	valid = append(valid, serverFrame(false, opText, []byte("frag-"))...)
	valid = append(valid, serverFrame(true, opCont, []byte("ment"))...)
	valid = append(valid, serverFrame(true, opText, []byte(strings.Repeat("m", 300)))...)
	valid = append(valid, serverFrame(true, opText, []byte(`{"type":"chat","text":"你好"}`))...)
	valid = append(valid, serverFrame(true, opClose, []byte("\x03\xe8bye"))...)
	for _, step := range []uint16{1, 3, 7, 1000} {
		f.Add(valid, step)
	}
	f.Add(serverFrame(true, opText, []byte(strings.Repeat("b", 70000))), uint16(4096))
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'x'}, uint16(2))                      // masked: refused
	f.Add([]byte{0x81, 127, 0xff, 0, 0, 0, 0, 0, 0, 1}, uint16(5))             // 2^63-ish length
	f.Add([]byte{0x81, 126, 0, 5, 'a', 'b'}, uint16(1))                        // incomplete
	f.Add(append(serverFrame(false, opText, []byte("a")), 0x89, 0), uint16(1)) // ping inside a fragmented message
	f.Fuzz(func(t *testing.T, stream []byte, step uint16) {
		if step == 0 {
			step = 1
		}
		whole, wholeTail, wholeErr := parseAll(stream, max(len(stream), 1))
		got, tail, err := parseAll(stream, int(step))
		if (err == nil) != (wholeErr == nil) {
			t.Fatalf("error in pieces of %d: %v; in one read: %v", step, err, wholeErr)
		}
		if len(got) != len(whole) {
			t.Fatalf("%d messages in pieces of %d, %d in one read", len(got), step, len(whole))
		}
		for i := range got {
			if got[i] != whole[i] {
				t.Fatalf("message %d differs in pieces of %d: %q vs %q", i, step, got[i], whole[i])
			}
		}
		if err == nil && tail != wholeTail {
			t.Fatalf("incomplete tail of %d bytes in pieces of %d, %d in one read", tail, step, wholeTail)
		}
		var total int
		for _, m := range got {
			total += len(m)
		}
		if total > 2*len(stream)+4*len(got) {
			t.Fatalf("%d bytes of messages out of a %d-byte stream", total, len(stream))
		}
	})
}

// unmaskClientFrame turns a client frame into the server frame of the same
// message (mask bit cleared, key removed, payload unmasked).
func unmaskClientFrame(t *testing.T, f []byte) []byte {
	t.Helper()
	if len(f) < 2 || f[1]&0x80 == 0 {
		t.Fatalf("client frame %x is not masked", f[:min(len(f), 2)])
	}
	h := 2
	switch f[1] & 0x7f {
	case 126:
		h = 4
	case 127:
		h = 10
	}
	if len(f) < h+4 {
		t.Fatalf("client frame of %d bytes has no mask key", len(f))
	}
	out := append([]byte{f[0], f[1] &^ 0x80}, f[2:h]...)
	m := f[h : h+4]
	for i, b := range f[h+4:] {
		out = append(out, b^m[i&3])
	}
	return out
}

// FuzzClientFrame: every payload the tool sends encodes as one masked
// frame (RFC 6455 §5.2: FIN, the opcode, the shortest length form) that
// decodes back to exactly the payload.
func FuzzClientFrame(f *testing.F) {
	for _, n := range []int{0, 5, 125, 126, 65535, 65536} {
		f.Add(byte(opText), bytes.Repeat([]byte("p"), n))
	}
	f.Add(byte(opPong), []byte("ping data"))
	f.Add(byte(opClose), []byte("\x03\xe8"))
	f.Fuzz(func(t *testing.T, op byte, payload []byte) {
		op &= 0x0f
		frame := clientFrame(op, payload)
		wantLen := 2 + 4 + len(payload)
		switch {
		case len(payload) >= 1<<16:
			wantLen += 8
		case len(payload) >= 126:
			wantLen += 2
		}
		if len(frame) != wantLen {
			t.Fatalf("a %d-byte payload makes a %d-byte frame, want %d", len(payload), len(frame), wantLen)
		}
		gotOp, fin, p, n, err := nextFrame(unmaskClientFrame(t, frame))
		if err != nil || n == 0 || !fin || gotOp != op || !bytes.Equal(p, payload) {
			t.Fatalf("decoded op %d fin %v, %d bytes (n %d, %v); want op %d, the %d-byte payload", gotOp, fin, len(p), n, err, op, len(payload))
		}
	})
}
