package web

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/archive"
)

// startLimitServer starts a server with the talks API on a real listener
// with lim and the shared networks.
func startLimitServer(t *testing.T, lim Limits, sharedNets ...netip.Prefix) (*Server, string) {
	t.Helper()
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Talks: &fakeTalks{talks: map[string]archive.Talk{}}, AdminToken: testAdmin,
		Limits: lim, SharedNets: sharedNets,
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, s.Addr()
}

// dialFrom connects to addr from the loopback address local (127.0.0.0/8
// is all loopback on Linux, so tests can be several clients).
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends one raw request on c and reads one response.
func roundTrip(t *testing.T, c net.Conn, req string) *http.Response {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp
}

// readAll reads c until the server closes it (or the test's patience ends)
// and reports whether it was closed.
func readAll(c net.Conn, patience time.Duration) (string, bool) {
	_ = c.SetReadDeadline(time.Now().Add(patience))
	b, err := io.ReadAll(c)
	var ne net.Error
	if err != nil && (!errorsAs(err, &ne) || ne.Timeout()) {
		return string(b), false
	}
	return string(b), true
}

func errorsAs(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// TestServer_Smuggling reproduces finding 11 of issue 13 over raw TCP: a
// request with both Content-Length and Transfer-Encoding kept its connection
// and the request hidden behind its chunked body was answered. Now it gets
// 400 and the connection closes; clean pipelined requests still work.
func TestServer_Smuggling(t *testing.T) {
	_, addr := startLimitServer(t, Limits{})

	c := dialFrom(t, "127.0.0.1", addr)
	smuggle := "POST /api/talks HTTP/1.1\r\nHost: salon\r\nContent-Type: application/json\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"0\r\n\r\n" +
		"GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n"
	if _, err := io.WriteString(c, smuggle); err != nil {
		t.Fatal(err)
	}
	out, closed := readAll(c, 10*time.Second)
	if !closed {
		t.Fatalf("the connection stayed open after a smuggling attempt; got:\n%s", out)
	}
	if n := strings.Count(out, "HTTP/1.1 "); n != 1 || !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, "Transfer-Encoding") {
		t.Fatalf("want one 400 response, got %d responses:\n%s", n, out)
	}

	// Header names in any case, Content-Length after Transfer-Encoding.
	c = dialFrom(t, "127.0.0.1", addr)
	if r := roundTrip(t, c, "POST /api/talks HTTP/1.1\r\nHost: salon\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n"); r.StatusCode != 400 || !r.Close {
		t.Fatalf("lower-case headers: %d, close %v", r.StatusCode, r.Close)
	}

	// Two clean pipelined requests, then a chunked one: all answered on one
	// connection.
	c = dialFrom(t, "127.0.0.1", addr)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\nGET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n")
	br := bufio.NewReader(c)
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("pipelined request %d: %v %v", i, resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	io.WriteString(c, "POST /api/talks HTTP/1.1\r\nHost: salon\r\nAuthorization: Bearer "+testAdmin+"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"1f\r\n{\"title\":\"x\",\"stage\":\"main\"}   \r\n0\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("clean chunked request: %v %v", resp, err)
	}
}

// TestServer_BodyDeadline reproduces the held connections of finding 2 of
// issue 13: requests that declare a body and never send it stayed open and
// unanswered. Now a body must start within BodyGrace and keep up
// BodyMinRate; a slow but steady upload still gets through.
func TestServer_BodyDeadline(t *testing.T) {
	lim := Limits{BodyGrace: 500 * time.Millisecond, BodyIdle: 2 * time.Second, BodyMinRate: 1000}
	s, addr := startLimitServer(t, lim)
	head := "POST /api/talks HTTP/1.1\r\nHost: salon\r\nAuthorization: Bearer " + testAdmin + "\r\nContent-Type: application/json\r\nContent-Length: "

	// Fifty requests whose bodies never come: every one is answered and
	// closed once the grace is over.
	var conns []net.Conn
	for range 50 {
		c := dialFrom(t, "127.0.0.1", addr)
		io.WriteString(c, head+"5\r\n\r\n")
		conns = append(conns, c)
	}
	for i, c := range conns {
		out, closed := readAll(c, 15*time.Second)
		if !closed || !strings.HasPrefix(out, "HTTP/1.1 408 ") {
			t.Fatalf("request %d with a missing body: closed %v, got %q", i, closed, first(out, 80))
		}
	}

	// A trickle (10 bytes a second) is cut.
	c := dialFrom(t, "127.0.0.1", addr)
	io.WriteString(c, head+"2000\r\n\r\n")
	start := time.Now()
	trickleDone := make(chan struct{})
	go func() {
		defer close(trickleDone)
		for range 200 {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	out, closed := readAll(c, 15*time.Second)
	if !closed || !strings.HasPrefix(out, "HTTP/1.1 408 ") {
		t.Fatalf("trickling body: closed %v after %s, got %q", closed, time.Since(start), first(out, 80))
	}
	c.Close()
	<-trickleDone

	// A steady 4 KB/s upload of 8 KB (two seconds, four times the grace and
	// the idle limit) is received whole.
	body := `{"title":"steady","stage":"main"}` + strings.Repeat(" ", 8000)
	c = dialFrom(t, "127.0.0.1", addr)
	io.WriteString(c, head+itoa(len(body))+"\r\n\r\n")
	for i := 0; i < len(body); i += 400 {
		io.WriteString(c, body[i:min(i+400, len(body))])
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("steady upload: %v %v", resp, err)
	}
	if n := counterValue(t, s, "slow_body"); n < 51 {
		t.Fatalf("salon_http_refused_total{reason=slow_body} = %v, want ≥ 51", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestServer_ConnLimits reproduces the unbounded connections of finding 2 of
// issue 13 on the HTTP port: one address may hold MaxConnsPerAddr
// connections (a shared network more), the port MaxConns, and the last
// ReserveConns serve only the organiser, while connections already open keep
// working.
func TestServer_ConnLimits(t *testing.T) {
	lim := Limits{MaxConns: 12, ReserveConns: 3, MaxConnsPerAddr: 4}
	s, addr := startLimitServer(t, lim, netip.MustParsePrefix("127.0.0.9/32"))
	get := "GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n"

	// One address: four connections, the fifth is refused with 429.
	var first4 []net.Conn
	for range 4 {
		c := dialFrom(t, "127.0.0.2", addr)
		if r := roundTrip(t, c, get); r.StatusCode != 200 {
			t.Fatalf("connection within the per-address limit: %d", r.StatusCode)
		}
		first4 = append(first4, c)
	}
	c := dialFrom(t, "127.0.0.2", addr)
	out, closed := readAll(c, 5*time.Second)
	if !closed || !strings.HasPrefix(out, "HTTP/1.1 429 ") {
		t.Fatalf("fifth connection from one address: closed %v, %q", closed, first(out, 60))
	}
	if resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil); err != nil {
		t.Fatal(err)
	} else if b, err := io.ReadAll(resp.Body); err != nil || !strings.HasPrefix(string(b), `{"error":"too many connections from your address`) {
		t.Fatalf("429 body %q, %v", b, err)
	}
	// The shared network is not limited per address: five from it (nine
	// open in all, the last before the organiser's reserve).
	for i := range 5 {
		c := dialFrom(t, "127.0.0.9", addr)
		if r := roundTrip(t, c, get); r.StatusCode != 200 {
			t.Fatalf("shared network connection %d: %d", i, r.StatusCode)
		}
	}
	waitConns(t, s, 9)
	// Inside the reserve (connections 10–12): a viewer gets 503, the
	// organiser is served.
	viewer := dialFrom(t, "127.0.0.3", addr)
	if r := roundTrip(t, viewer, get); r.StatusCode != 503 || !r.Close {
		t.Fatalf("a viewer inside the reserve: %d close %v", r.StatusCode, r.Close)
	}
	admin := dialFrom(t, "127.0.0.4", addr)
	if r := roundTrip(t, admin, "GET /api/talks HTTP/1.1\r\nHost: salon\r\nAuthorization: Bearer "+testAdmin+"\r\n\r\n"); r.StatusCode != 200 {
		t.Fatalf("the organiser inside the reserve: %d", r.StatusCode)
	}
	// Connections opened before the limit still work.
	for _, c := range first4 {
		if r := roundTrip(t, c, get); r.StatusCode != 200 {
			t.Fatalf("an open connection after the limit: %d", r.StatusCode)
		}
	}
	// A silent connection cannot sit in the reserve for the server's whole
	// header timeout: it is closed after reserveHeaderWait.
	silent := dialFrom(t, "127.0.0.7", addr)
	if out, closed := readAll(silent, 10*time.Second); !closed || out != "" {
		t.Fatalf("a silent connection in the reserve: closed %v, %q", closed, out)
	}
	// Past MaxConns: refused at once.
	for range 2 {
		c := dialFrom(t, "127.0.0.5", addr)
		if r := roundTrip(t, c, "GET /api/talks HTTP/1.1\r\nHost: salon\r\nAuthorization: Bearer "+testAdmin+"\r\n\r\n"); r.StatusCode != 200 {
			t.Fatalf("the organiser inside the reserve: %d", r.StatusCode)
		}
	}
	waitConns(t, s, 12)
	c = dialFrom(t, "127.0.0.6", addr)
	if out, closed := readAll(c, 5*time.Second); !closed || !strings.HasPrefix(out, "HTTP/1.1 503 ") {
		t.Fatalf("connection past MaxConns: closed %v, %q", closed, first(out, 60))
	}
	// Closing connections makes room again.
	for _, c := range first4 {
		c.Close()
	}
	waitConns(t, s, 8)
	if r := roundTrip(t, dialFrom(t, "127.0.0.2", addr), get); r.StatusCode != 200 {
		t.Fatalf("after closing: %d", r.StatusCode)
	}
}

// waitConns waits until the server holds n connections (accepts and closes
// happen on the server's goroutines).
func waitConns(t *testing.T, s *Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.conns.conns() != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d connections, want %d", s.conns.conns(), n)
		}
	}
}

// counterValue reads salon_http_refused_total{reason}.
func counterValue(t *testing.T, s *Server, reason string) float64 {
	t.Helper()
	mfs, err := s.Gatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "salon_http_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// TestServer_WriteIdle: a client that asks for a large object and stops
// reading held its connection and a goroutine for as long as it liked. Now
// the write is cut after WriteIdle and the connection closed, while a client
// that reads slowly but steadily gets everything.
func TestServer_WriteIdle(t *testing.T) {
	dir := &archive.DirStore{Root: t.TempDir()}
	if err := dir.Initialize(); err != nil {
		t.Fatal(err)
	}
	const key = "stages/main/20261125T100000Z/1.m4s"
	big := strings.Repeat("0123456789abcdef", 4<<20) // 64 MiB: more than any socket buffers
	if err := dir.Put(t.Context(), key, strings.NewReader(big), int64(len(big)), ""); err != nil {
		t.Fatal(err)
	}
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Archive: dir,
		Limits: Limits{WriteIdle: time.Second},
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	c := dialFrom(t, "127.0.0.1", s.Addr())
	io.WriteString(c, "GET /archive/"+key+" HTTP/1.1\r\nHost: salon\r\n\r\n")
	waitConns(t, s, 0) // the server gave up on the silent reader and closed
	c.Close()

	// A reader that takes a pause shorter than WriteIdle now and then.
	c = dialFrom(t, "127.0.0.1", s.Addr())
	io.WriteString(c, "GET /archive/"+key+" HTTP/1.1\r\nHost: salon\r\nConnection: close\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	n := int64(0)
	for i := 0; ; i++ {
		m, err := io.CopyN(io.Discard, resp.Body, 8<<20)
		n += m
		if err != nil {
			break
		}
		if i < 3 {
			time.Sleep(300 * time.Millisecond)
		}
	}
	if n != int64(len(big)) {
		t.Fatalf("a reader with short pauses got %d of %d bytes", n, len(big))
	}
}

// TestServer_ConnLimitsReserveSession: inside the organiser's reserve a
// console session cookie is admitted like the bearer token; a stale or
// made-up cookie is not.
func TestServer_ConnLimitsReserveSession(t *testing.T) {
	lim := Limits{MaxConns: 4, ReserveConns: 2, MaxConnsPerAddr: 10}
	s, addr := startLimitServer(t, lim)
	id, _ := s.sessions.create(time.Now())
	get := "GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n"
	for range 2 {
		if r := roundTrip(t, dialFrom(t, "127.0.0.2", addr), get); r.StatusCode != 200 {
			t.Fatalf("a viewer before the reserve: %d", r.StatusCode)
		}
	}
	waitConns(t, s, 2)
	for _, tc := range []struct {
		name, cookie string
		want         int
	}{
		{"made-up session", "theme=dark; salon_admin=not-a-session", 503},
		{"console session", "theme=dark; salon_admin=" + id, 200},
	} {
		c := dialFrom(t, "127.0.0.3", addr)
		if r := roundTrip(t, c, "GET /api/talks HTTP/1.1\r\nHost: salon\r\nCookie: "+tc.cookie+"\r\n\r\n"); r.StatusCode != tc.want {
			t.Fatalf("%s inside the reserve: %d, want %d", tc.name, r.StatusCode, tc.want)
		}
		if tc.want == 200 {
			// Admitted: the connection serves the console's next requests.
			if r := roundTrip(t, c, get); r.StatusCode != 200 {
				t.Fatalf("the next request of an admitted connection: %d", r.StatusCode)
			}
		}
	}
}

func TestServer_Organiser(t *testing.T) {
	s, _ := startLimitServer(t, Limits{})
	id, _ := s.sessions.create(time.Now())
	req := func(h ...string) *http.Request {
		r, _ := http.NewRequest("GET", "/", nil)
		for i := 0; i < len(h); i += 2 {
			r.Header.Add(h[i], h[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"nothing", req(), false},
		{"bearer", req("Authorization", "Bearer "+testAdmin), true},
		{"wrong bearer", req("Authorization", "Bearer nope"), false},
		{"wrong bearer and a session", req("Authorization", "Bearer nope", "Cookie", "salon_admin="+id), false},
		{"session", req("Cookie", "salon_admin="+id), true},
		{"session among others", req("Cookie", "a=1; salon_admin="+id+"; b=2"), true},
		{"session on a second line", req("Cookie", "a=1", "Cookie", `salon_admin="`+id+`"`), true},
		{"another cookie's value", req("Cookie", "x_salon_admin="+id), false},
		{"unknown session", req("Cookie", "salon_admin=abc"), false},
		{"empty", req("Cookie", "salon_admin="), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.organiser(tc.r); got != tc.want {
				t.Errorf("organiser = %v, want %v", got, tc.want)
			}
		})
	}
	// A lookup, not an allocation per cookie: the reserve runs it per request.
	r := req("Cookie", "a=1; b=2; c=3; salon_admin="+id)
	if n := testing.AllocsPerRun(100, func() { s.organiser(r) }); n > 1 {
		t.Errorf("organiser with a session cookie allocates %.0f times, want ≤ 1", n)
	}
}

// FuzzCookieValue: the reserve's cookie scan reads whatever a client sends;
// it never panics, and what it returns is text of the header itself.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"salon_admin=abc", "a=1; salon_admin=\"q\"", "salon_admin", ";;salon_admin=;", "salon_admin=\"", " salon_admin = x "} {
		f.Add(s, "b=2")
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		v := cookieValue([]string{line1, line2}, sessionCookie)
		if v != "" && !strings.Contains(line1, v) && !strings.Contains(line2, v) {
			t.Fatalf("cookieValue(%q, %q) = %q, not in the header", line1, line2, v)
		}
	})
}
