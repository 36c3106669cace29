package web

import (
	"net/http/httptest"
	"testing"
)

func TestRedirector_redirect(t *testing.T) {
	cases := []struct {
		name, method, host, target string
		r                          Redirector
		code                       int
		location                   string
	}{
		{"same host, other port", "GET", "live.example.org", "/live/main?a=1", Redirector{HTTPSPort: "8443"}, 301, "https://live.example.org:8443/live/main?a=1"},
		{"port 443 left out", "HEAD", "live.example.org:80", "/", Redirector{HTTPSPort: "443"}, 301, "https://live.example.org/"},
		{"ipv6", "GET", "[2001:db8::1]:80", "/x", Redirector{HTTPSPort: "443"}, 301, "https://[2001:db8::1]/x"},
		{"public url wins", "GET", "10.0.0.5", "/talks/1", Redirector{HTTPSPort: "8443", PublicURL: "https://salon.example.org/"}, 301, "https://salon.example.org/talks/1"},
		{"plain public url ignored", "GET", "10.0.0.5", "/", Redirector{HTTPSPort: "443", PublicURL: "http://salon.example.org"}, 301, "https://10.0.0.5/"},
		{"post refused", "POST", "live.example.org", "/api/talks", Redirector{HTTPSPort: "443"}, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://"+tc.host+tc.target, nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			tc.r.redirect(w, req)
			if w.Code != tc.code || w.Header().Get("Location") != tc.location {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Header().Get("Location"), tc.code, tc.location)
			}
		})
	}
}
