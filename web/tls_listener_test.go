package web

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/webtest"
)

// startTLSServer starts a server with the talks API serving HTTPS with a
// self-signed certificate for 127.0.0.1.
func startTLSServer(t *testing.T, lim Limits) (*Server, webtest.Cert) {
	t.Helper()
	cert := webtest.SelfSigned(t, t.TempDir(), "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Talks: &fakeTalks{talks: map[string]archive.Talk{}}, AdminToken: testAdmin,
		Limits: lim, TLS: &tls.Config{Certificates: []tls.Certificate{pair}},
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, cert
}

// tlsDialFrom opens a TLS connection from local offering protos in ALPN.
func tlsDialFrom(t *testing.T, local, addr string, cert webtest.Cert, protos ...string) *tls.Conn {
	t.Helper()
	c := dialFrom(t, local, addr)
	tc := tls.Client(c, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1", NextProtos: protos})
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("tls handshake from %s: %v", local, err)
	}
	return tc
}

// httpsClient is an HTTP client trusting cert from the address local; h2
// chooses HTTP/2 or HTTP/1.1.
func httpsClient(cert webtest.Cert, local string, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: cert.Pool},
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext,
	}
	if h2 {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestServer_TLS serves HTTPS over HTTP/2 and HTTP/1.1 with HSTS, tells a
// plain-HTTP client to use https://, and keeps HSTS off plain HTTP.
func TestServer_TLS(t *testing.T) {
	s, cert := startTLSServer(t, Limits{})
	for _, h2 := range []bool{true, false} {
		resp, err := httpsClient(cert, "127.0.0.1", h2).Get("https://" + s.Addr() + "/healthz")
		if err != nil {
			t.Fatalf("h2 %v: %v", h2, err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 2, false: 1}[h2]; resp.ProtoMajor != want || resp.StatusCode != 200 {
			t.Fatalf("h2 %v: %s %d", h2, resp.Proto, resp.StatusCode)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != hstsMaxAge {
			t.Fatalf("h2 %v: Strict-Transport-Security %q", h2, got)
		}
	}
	// Plain HTTP on the HTTPS port gets an answer it can read.
	c := dialFrom(t, "127.0.0.1", s.Addr())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: salon\r\n\r\n")
	if out, closed := readAll(c, 10*time.Second); !closed || !strings.HasPrefix(out, "HTTP/1.0 400 ") || !strings.Contains(out, "https://") {
		t.Fatalf("plain HTTP on the HTTPS port: closed %v, %q", closed, out)
	}

	_, plain := startLimitServer(t, Limits{})
	r := do(t, "GET", "http://"+plain+"/healthz", nil)
	if got := r.header.Get("Strict-Transport-Security"); got != "" {
		t.Fatalf("HSTS on plain HTTP: %q", got)
	}
}

// TestServer_TLSSmuggling is TestServer_Smuggling over TLS: the sniffer
// reads the decrypted stream.
func TestServer_TLSSmuggling(t *testing.T) {
	s, cert := startTLSServer(t, Limits{})
	for _, protos := range [][]string{{"http/1.1"}, nil} {
		c := tlsDialFrom(t, "127.0.0.1", s.Addr(), cert, protos...)
		smuggle := "POST /api/talks HTTP/1.1\r\nHost: salon\r\nContent-Type: application/json\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"0\r\n\r\n" +
			"GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n"
		io.WriteString(c, smuggle)
		out, closed := readAll(c, 10*time.Second)
		if !closed || strings.Count(out, "HTTP/1.1 ") != 1 || !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, "Transfer-Encoding") {
			t.Fatalf("ALPN %v: want one 400 and a close, got closed %v:\n%s", protos, closed, out)
		}
		// A clean request on a new connection is answered, and knows it
		// came over TLS.
		c = tlsDialFrom(t, "127.0.0.1", s.Addr(), cert, protos...)
		if r := roundTrip(t, c, "GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n"); r.StatusCode != 200 {
			t.Fatalf("ALPN %v: clean request %d", protos, r.StatusCode)
		}
	}
	if n := counterValue(t, s, "smuggling"); n != 2 {
		t.Fatalf("smuggling refusals counted %v, want 2", n)
	}
}

// TestServer_TLSConnLimits is TestServer_ConnLimits over TLS: the limits
// count TCP connections, a handshake in progress holds one, refusals past
// the limits are closed without an answer, and the organiser's reserve
// works over HTTP/1.1 and HTTP/2.
func TestServer_TLSConnLimits(t *testing.T) {
	lim := Limits{MaxConns: 8, ReserveConns: 3, MaxConnsPerAddr: 3}
	s, cert := startTLSServer(t, lim)
	addr := s.Addr()
	get := "GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n"
	var open []net.Conn
	for range 3 {
		c := tlsDialFrom(t, "127.0.0.2", addr, cert, "http/1.1")
		if r := roundTrip(t, c, get); r.StatusCode != 200 {
			t.Fatalf("within the per-address limit: %d", r.StatusCode)
		}
		open = append(open, c)
	}
	// The fourth TCP connection from the address is closed before TLS.
	c := dialFrom(t, "127.0.0.2", addr)
	if out, closed := readAll(c, 5*time.Second); !closed || out != "" {
		t.Fatalf("fourth connection from one address: closed %v, %q", closed, out)
	}
	if n := counterValue(t, s, "per_address"); n != 1 {
		t.Fatalf("per-address refusals %v, want 1", n)
	}
	// TCP connections that never start their handshake count too.
	silent := []net.Conn{dialFrom(t, "127.0.0.3", addr), dialFrom(t, "127.0.0.3", addr)}
	waitConns(t, s, 5)
	// Connections 6–8 are inside the reserve: a viewer gets 503, the
	// organiser is served over HTTP/1.1 and HTTP/2.
	viewer := tlsDialFrom(t, "127.0.0.4", addr, cert, "http/1.1")
	if r := roundTrip(t, viewer, get); r.StatusCode != 503 || !r.Close {
		t.Fatalf("a viewer inside the reserve: %d close %v", r.StatusCode, r.Close)
	}
	h2viewer := httpsClient(cert, "127.0.0.8", true)
	resp, err := h2viewer.Get("https://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 503 || resp.ProtoMajor != 2 {
		t.Fatalf("a viewer inside the reserve over HTTP/2: %v %v", resp, err)
	}
	resp.Body.Close()
	h2viewer.CloseIdleConnections()
	waitConns(t, s, 5) // both viewers' connections closed (HTTP/2: GOAWAY)
	admin := tlsDialFrom(t, "127.0.0.5", addr, cert, "http/1.1")
	if r := roundTrip(t, admin, "GET /api/talks HTTP/1.1\r\nHost: salon\r\nAuthorization: Bearer "+testAdmin+"\r\n\r\n"); r.StatusCode != 200 {
		t.Fatalf("the organiser inside the reserve over HTTP/1.1: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("GET", "https://"+addr+"/api/talks", nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err = httpsClient(cert, "127.0.0.6", true).Do(req)
	if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("the organiser inside the reserve over HTTP/2: %v %v", resp, err)
	}
	resp.Body.Close()
	// The viewer's connection has closed: 5 + the organiser's two. A silent
	// connection inside the reserve is closed after reserveHeaderWait,
	// handshake or not.
	waitConns(t, s, 7)
	late := dialFrom(t, "127.0.0.7", addr)
	if out, closed := readAll(late, 10*time.Second); !closed || out != "" {
		t.Fatalf("a silent connection in the reserve: closed %v, %q", closed, out)
	}
	for _, c := range silent {
		c.Close()
	}
	for _, c := range open {
		if r := roundTrip(t, c, get); r.StatusCode != 200 {
			t.Fatalf("an open connection after the limit: %d", r.StatusCode)
		}
	}
}

// TestServer_TLSBrowser loads the live page in Chromium over HTTPS, the
// self-signed certificate trusted by its public key: over HTTP/2.
func TestServer_TLSBrowser(t *testing.T) {
	s, cert := startTLSServer(t, Limits{})
	ctx, cancel := context.WithTimeout(webtest.Browser(t, webtest.TrustSPKI(cert.SPKI)), 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("https://"+s.Addr()+"/live/main")); err != nil {
		t.Fatalf("open the live page over HTTPS: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title + ' | ' + performance.getEntriesByType('navigation')[0].nextHopProtocol`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "main") || !strings.HasSuffix(got, " | h2") {
		t.Fatalf("live page over HTTPS: title | protocol = %q", got)
	}
}

// TestServer_TLSConsoleCookie logs in to the console over HTTPS (HTTP/2 and
// HTTP/1.1): the session cookie is Secure there, and not on plain HTTP.
func TestServer_TLSConsoleCookie(t *testing.T) {
	s, cert := startTLSServer(t, Limits{})
	_, plain := startLimitServer(t, Limits{})
	cases := []struct {
		name, base string
		client     *http.Client
		secure     bool
	}{
		{"https h2", "https://" + s.Addr(), httpsClient(cert, "127.0.0.1", true), true},
		{"https http/1.1", "https://" + s.Addr(), httpsClient(cert, "127.0.0.1", false), true},
		{"http", "http://" + plain, &http.Client{Timeout: 10 * time.Second}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := tc.client.PostForm(tc.base+"/admin/login", url.Values{"token": {testAdmin}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var c *http.Cookie
			for _, k := range resp.Cookies() {
				if k.Name == sessionCookie {
					c = k
				}
			}
			if resp.StatusCode != http.StatusSeeOther || c == nil || c.Secure != tc.secure {
				t.Fatalf("login: %d, session cookie %+v, want Secure %v", resp.StatusCode, c, tc.secure)
			}
		})
	}
}
