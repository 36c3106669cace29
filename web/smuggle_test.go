package web

import (
	"strings"
	"testing"
)

var smuggleCases = []struct {
	name string
	in   string
	bad  bool
}{
	{"clean GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
	{"content-length only", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", false},
	{"chunked only", "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	{"both", "POST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
	{"both, other order and case", "POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\nCONTENT-LENGTH: 4\r\n\r\n", true},
	{"lower-case method", "post /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", true},
	{"HTTP/1.0, bare LF", "POST /x HTTP/1.0\nContent-Length: 4\nTransfer-Encoding: chunked\n\n", true},
	{"long target", "GET /" + strings.Repeat("k", 3000) + " HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", true},
	{"second request of a keep-alive", "GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", true},
	{"fields in different requests", "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nabPOST /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false},
	{"header value mentions the other", "POST /x HTTP/1.1\r\nX-Note: Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nab", false},
	{"binary body", "POST /x HTTP/1.1\r\nContent-Length: 6\r\n\r\n\x00\xff\r\n\n\r", false},
}

func TestSmuggleSniffer_feed(t *testing.T) {
	for _, tc := range smuggleCases {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, then one byte at a time: reads split anywhere.
			var whole smuggleSniffer
			if got := whole.feed([]byte(tc.in)); got != tc.bad {
				t.Fatalf("feed = %v, want %v", got, tc.bad)
			}
			var bytewise smuggleSniffer
			got := false
			for i := range len(tc.in) {
				got = bytewise.feed([]byte{tc.in[i]}) || got
			}
			if got != tc.bad {
				t.Fatalf("byte by byte = %v, want %v", got, tc.bad)
			}
		})
	}
}

// FuzzSmuggleSniffer checks that the verdict does not depend on how the
// bytes were split into reads, and that nothing panics.
func FuzzSmuggleSniffer(f *testing.F) {
	for _, tc := range smuggleCases {
		f.Add([]byte(tc.in), uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		var a, b smuggleSniffer
		want := a.feed(data)
		step := int(split%64) + 1
		got := false
		for i := 0; i < len(data); i += step {
			got = b.feed(data[i:min(i+step, len(data))]) || got
		}
		if got != want {
			t.Fatalf("split every %d bytes: %v, whole: %v", step, got, want)
		}
	})
}

// BenchmarkSmuggleSniffer_requestHead is the sniffer's cost per playlist
// request of a viewer (a typical hls.js request head).
func BenchmarkSmuggleSniffer_requestHead(b *testing.B) {
	head := []byte("GET /live/main/index.m3u8 HTTP/1.1\r\nHost: salon.example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\nAccept: */*\r\nX-Salon-Viewer: 0123456789abcdef0123\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n")
	var s smuggleSniffer
	b.SetBytes(int64(len(head)))
	for b.Loop() {
		s.feed(head)
	}
}

// BenchmarkSmuggleSniffer_upload is its cost on an upload's body (binary,
// in 32 KiB reads).
func BenchmarkSmuggleSniffer_upload(b *testing.B) {
	body := make([]byte, 32<<10)
	for i := range body {
		body[i] = byte(i * 7919 >> 3)
	}
	var s smuggleSniffer
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		s.feed(body)
	}
}
