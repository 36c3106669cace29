package web

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// clientFrom is an HTTP client whose connections come from local.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestServer_ViewerIDsPerAddr reproduces finding 12 of issue 13: one client
// sending 500 different X-Salon-Viewer ids counted as 500 viewers. Now one
// address counts at most ViewerIDsPerAddr; a shared network (a venue's NAT)
// is not bounded per address.
func TestServer_ViewerIDsPerAddr(t *testing.T) {
	s, addr := startLimitServer(t, Limits{ViewerIDsPerAddr: 5}, netip.MustParsePrefix("127.0.0.9/32"))
	fetch := func(c *http.Client, id string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/live/main/index.m3u8", nil)
		req.Header.Set("X-Salon-Viewer", id)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("playlist: %d", resp.StatusCode)
		}
	}
	attacker := clientFrom("127.0.0.2")
	for i := range 500 {
		fetch(attacker, fmt.Sprintf("made-up-viewer-%03d", i))
	}
	if n := s.Viewers("main"); n != 5 {
		t.Fatalf("one address with 500 ids counts as %d viewers, want 5", n)
	}
	fetch(attacker, "made-up-viewer-000") // a counted id keeps counting
	other := clientFrom("127.0.0.3")
	fetch(other, "someone-else")
	if n := s.Viewers("main"); n != 6 {
		t.Fatalf("another address adds %d, want 1 more (6)", n-5)
	}
	venue := clientFrom("127.0.0.9")
	for i := range 40 {
		fetch(venue, fmt.Sprintf("venue-phone-%02d", i))
	}
	if n := s.Viewers("main"); n != 46 {
		t.Fatalf("40 phones behind the venue's NAT: %d viewers in all, want 46", n)
	}
}
