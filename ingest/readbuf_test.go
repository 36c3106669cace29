package ingest

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"
)

// TestGuardedConn_readBuffer reads a publisher's bytes through a small
// bufio.Reader, as gortsplib does, and gets them whole and in order: those
// written before the promotion straight from the socket, the rest through
// the connection's buffer, which only a promoted connection allocates.
func TestGuardedConn_readBuffer(t *testing.T) {
	l, err := listenGuarded("tcp", "127.0.0.1:0", "RTSP", Limits{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(rand.Uint32())
	}
	const before = 10_000 // read before the promotion
	errc := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		// Frame-sized writes, as an encoder sends them.
		for b := want; len(b) > 0; {
			n := min(len(b), 1+rand.IntN(20_000))
			if _, err := c.Write(b[:n]); err != nil {
				errc <- err
				return
			}
			b = b[n:]
		}
		errc <- nil
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gc := c.(*guardedConn)
	br := bufio.NewReaderSize(c, 4096)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got[:before]); err != nil {
		t.Fatal(err)
	}
	if gc.rb.buf != nil {
		t.Error("a connection that does not publish allocated a read buffer")
	}
	promoteConn(c)
	// Reads of many sizes: small ones through bufio, payloads of a few
	// kilobytes, and one larger than the buffer, straight into got.
	off := before
	for _, n := range []int{4, 1400, 7000, 3, publisherReadBuffer + 100} {
		if _, err := io.ReadFull(br, got[off:off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if _, err := io.ReadFull(br, got[off:]); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes read through the publisher's buffer differ from those written")
	}
	if gc.rb.buf == nil {
		t.Error("a publisher's reads did not go through its buffer")
	}
	if n, err := br.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("after the writer closed: read %d, %v; want 0, EOF", n, err)
	}
}
