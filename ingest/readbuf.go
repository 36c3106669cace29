package ingest

// publisherReadBuffer is the size of a publisher connection's read buffer.
// gortsplib reads through a 4 KiB bufio.Reader, so a 4 Mbit/s RTSP publish
// took ~185 read system calls a second; with 64 KiB, one read takes what
// the encoder sent since the last one (a video frame is ~17 KB at 4 Mbit/s
// and 30 fps), and the rest are served from memory.
const publisherReadBuffer = 64 << 10

// readBuffer holds what one read of the connection brought in beyond what
// the caller asked for. Only the connection's reading goroutine uses it.
type readBuffer struct {
	buf        []byte
	start, end int
}

// Read reads through rb once the connection publishes (a connection that
// never publishes allocates no buffer). Reads at least as large as the
// buffer go straight to the connection.
func (c *guardedConn) Read(p []byte) (int, error) {
	rb := &c.rb
	if rb.start < rb.end {
		n := copy(p, rb.buf[rb.start:rb.end])
		rb.start += n
		return n, nil
	}
	if len(p) >= publisherReadBuffer || !c.buffered.Load() {
		return c.Conn.Read(p)
	}
	if rb.buf == nil {
		rb.buf = make([]byte, publisherReadBuffer)
	}
	n, err := c.Conn.Read(rb.buf)
	if n == 0 {
		return 0, err
	}
	// Data first; an error comes back with the next read.
	k := copy(p, rb.buf[:n])
	rb.start, rb.end = k, n
	return k, nil
}
