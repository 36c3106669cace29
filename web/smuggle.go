package web

import "bytes"

// smuggleSniffer watches the bytes a connection reads for a request head
// that has both Content-Length and Transfer-Encoding. net/http honours
// Transfer-Encoding and drops Content-Length before a handler sees the
// request, so only the raw bytes tell; RFC 9112 §6.1 asks a server to treat
// such a request as an error and close the connection, because a proxy in
// front may have framed it by Content-Length and passed a second, hidden
// request behind it.
//
// It is a line scanner, not a parser: a line that looks like a request line
// (ending in " HTTP/1.1" or " HTTP/1.0", whatever the method) starts a head, an empty line ends it, and only
// the start of each header line and the end of each request line are kept.
// A body is scanned too; a body that itself holds such a head (a request
// inside an upload) is refused as well, which no real client sends.
type smuggleSniffer struct {
	head    [24]byte // first bytes of the current line
	headN   int
	tail    [10]byte // last bytes of the current line
	tailN   int
	lineLen int
	inHead  bool
	cl, te  bool
}

// feed scans p and reports whether a head with both fields has ended.
func (s *smuggleSniffer) feed(p []byte) (bad bool) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.add(p)
			return bad
		}
		s.add(p[:i])
		if s.endLine() {
			bad = true
		}
		p = p[i+1:]
	}
	return bad
}

func (s *smuggleSniffer) add(b []byte) {
	if s.headN < len(s.head) {
		s.headN += copy(s.head[s.headN:], b)
	}
	s.lineLen += len(b)
	if len(b) >= len(s.tail) {
		copy(s.tail[:], b[len(b)-len(s.tail):])
		s.tailN = len(s.tail)
		return
	}
	keep := min(s.tailN, len(s.tail)-len(b))
	copy(s.tail[:keep], s.tail[s.tailN-keep:s.tailN])
	copy(s.tail[keep:], b)
	s.tailN = keep + len(b)
}

func (s *smuggleSniffer) endLine() (bad bool) {
	head := s.head[:s.headN]
	tail := s.tail[:s.tailN]
	n := s.lineLen
	s.headN, s.tailN, s.lineLen = 0, 0, 0
	if n > 0 && tail[len(tail)-1] == '\r' {
		n--
		tail = tail[:len(tail)-1]
		if len(head) > n {
			head = head[:n]
		}
	}
	if s.inHead {
		switch {
		case n == 0:
			s.inHead = false
			return s.cl && s.te
		case hasPrefixFold(head, "content-length:"):
			s.cl = true
		case hasPrefixFold(head, "transfer-encoding:"):
			s.te = true
		}
		return false
	}
	if n > 0 && head[0] != ' ' && head[0] != '\t' && (bytes.HasSuffix(tail, []byte(" HTTP/1.1")) || bytes.HasSuffix(tail, []byte(" HTTP/1.0"))) {
		s.inHead, s.cl, s.te = true, false, false
	}
	return false
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}
