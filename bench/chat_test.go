package bench

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/web/chat"
)

func TestLatencyHist_Quantile(t *testing.T) {
	var h latencyHist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 500 * time.Millisecond},
		{0.99, 990 * time.Millisecond},
		{1, 1000 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		// The bucket's upper bound: never below the true value, at most 1/16 above.
		if got < tt.want || got > tt.want+tt.want/16 {
			t.Errorf("quantile(%g) = %v, want %v … +6.25%%", tt.q, got, tt.want)
		}
	}
	if h.max != time.Second {
		t.Errorf("max = %v, want 1s", h.max)
	}
	var empty latencyHist
	if empty.quantile(0.99) != 0 {
		t.Error("empty histogram: quantile not 0")
	}
}

func TestLatencyHist_Buckets(t *testing.T) {
	// Every value lies within its bucket's bounds, and buckets are monotonic.
	prev := -1
	for _, us := range []uint64{0, 1, 15, 16, 17, 31, 32, 33, 1000, 123456, 1 << 30, 1<<37 - 1} {
		b := histBucket(us)
		if b < prev {
			t.Errorf("bucket(%d) = %d < previous %d", us, b, prev)
		}
		prev = b
		if up := histUpper(b); us > up || (b > 0 && us <= histUpper(b-1)) {
			t.Errorf("%d µs in bucket %d (upper %d, previous upper %d)", us, b, up, histUpper(b-1))
		}
	}
	if b := histBucket(1 << 50); b != histBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last (%d)", b, histBuckets-1)
	}
}

func TestLatencyHist_Merge(t *testing.T) {
	var a, b latencyHist
	a.add(time.Millisecond)
	b.add(3 * time.Millisecond)
	b.add(2 * time.Millisecond)
	a.merge(&b)
	if a.n != 3 || a.max != 3*time.Millisecond {
		t.Fatalf("merged n=%d max=%v, want 3 and 3ms", a.n, a.max)
	}
	if got := a.quantile(0.5); got < 2*time.Millisecond || got > 2*time.Millisecond+time.Millisecond/8 {
		t.Errorf("median %v, want ~2ms", got)
	}
}

func TestParseStamp(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		id    uint64
		stamp int64
		ok    bool
	}{
		{"chat frame", `{"type":"chat","id":"ab12","talk":null,"name":"guest-ab12","text":"` + stampText(42, 1234567890) + `","ts":"2026-01-01T00:00:00.000Z"}`, 42, 1234567890, true},
		{"other text", `{"type":"chat","id":"x","name":"a","text":"hello bench 1 2","ts":"t"}`, 0, 0, false},
		{"no stamp", `{"type":"chat","id":"x","name":"a","text":"bench 12","ts":"t"}`, 0, 0, false},
		{"not a number", `{"type":"chat","text":"bench x 12"}`, 0, 0, false},
		{"negative", `{"type":"chat","text":"bench 1 -12"}`, 0, 0, false},
		{"truncated", `{"type":"chat","text":"bench 1 12`, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, st, ok := parseStamp([]byte(tt.frame))
			if ok != tt.ok || id != tt.id || st != tt.stamp {
				t.Errorf("parseStamp = %d, %d, %v; want %d, %d, %v", id, st, ok, tt.id, tt.stamp, tt.ok)
			}
		})
	}
}

func TestFrameKind(t *testing.T) {
	for frame, want := range map[string]string{
		`{"type":"chat","id":"x"}`:             "chat",
		`{"type":"error","code":"banned"}`:     "error",
		`{"type":"welcome","you":{}}`:          "welcome",
		`{"id":"x","type":"chat"}`:             "",
		`{"type":"averyveryverylongtypename"}`: "",
		``:                                     "",
	} {
		if got := frameKind([]byte(frame)); got != want {
			t.Errorf("frameKind(%s) = %q, want %q", frame, got, want)
		}
	}
}

func TestLossFor(t *testing.T) {
	// Five messages sent at stamps 10…50; message 3 was refused (nobody got it).
	sent := []int64{10, 20, 30, 40, 50}
	accepted := newBitset(5)
	for _, id := range []uint64{0, 1, 2, 4} {
		accepted.set(id)
	}
	recv := newBitset(5)
	recv.set(1)
	recv.set(4)
	tests := []struct {
		name           string
		joined, left   int64
		expected, lost int64
	}{
		{"whole run", 0, 0, 4, 2},    // owes 0,1,2,4; missed 0,2
		{"joined late", 15, 0, 3, 1}, // owes 1,2,4; missed 2
		{"left early", 0, 25, 2, 1},  // owes 0,1; missed 0
		{"joined after everything", 60, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp, lost := lossFor(recv, accepted, sent, tt.joined, tt.left)
			if exp != tt.expected || lost != tt.lost {
				t.Errorf("lossFor = %d expected, %d lost; want %d, %d", exp, lost, tt.expected, tt.lost)
			}
		})
	}
}

func TestBitset(t *testing.T) {
	b := newBitset(100)
	if b.set(63) || b.set(64) {
		t.Fatal("fresh ids reported as duplicates")
	}
	if !b.set(64) {
		t.Error("second set of 64 not a duplicate")
	}
	if !b.set(1000) || b.has(1000) {
		t.Error("id beyond the set must count as a duplicate and not be stored")
	}
	if !b.has(63) || b.has(62) {
		t.Error("has disagrees with set")
	}
}

func TestSourceAddr(t *testing.T) {
	base := net.ParseIP("127.1.0.1").To4()
	for i, want := range map[int]string{0: "127.1.0.1", 1: "127.1.0.2", 253: "127.1.0.254", 254: "127.1.1.1", 508: "127.1.2.1"} {
		if got := sourceAddr(base, i).String(); got != want {
			t.Errorf("sourceAddr(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestChatURL(t *testing.T) {
	tests := []struct {
		raw, want string
		ok        bool
	}{
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws/chat/main", true},
		{"http://localhost:8080/", "ws://localhost:8080/ws/chat/main", true},
		{"ws://127.0.0.1:9/ws/chat/other", "ws://127.0.0.1:9/ws/chat/other", true},
		{"http://192.0.2.1:8080", "", false},
		{"ftp://127.0.0.1", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := chatURL(tt.raw, "main")
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("chatURL(%q) = %q, %v; want %q, ok %v", tt.raw, got, err, tt.want, tt.ok)
		}
	}
}

// TestChat_Run loads a real chat hub with a few viewers and checks that every
// message reaches every reading viewer and the accounting adds up.
func TestChat_Run(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a few seconds")
	}
	// Pings every second: a stalled viewer is dropped after two (within
	// the run and its 3 s drain), while a reader on a loaded machine, under
	// -race, has a whole second to answer each.
	hub := &chat.Hub{Stage: "main", Log: slog.New(slog.DiscardHandler), PingInterval: time.Second}
	if err := hub.Initialize(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		hub.ServeWS(w, r, ip)
	}))
	// Close the hub first: it ends the connections the server waits for.
	defer srv.Close()
	defer hub.Close()

	b := &Chat{
		URL:      "ws://" + srv.Listener.Addr().String() + "/ws/chat/main",
		N:        56,
		Senders:  7, // one per source address (56 / 8)
		Rate:     7, // 1 message per second per sender, under the hub's 1.5/s
		Stalled:  0.1,
		Duration: 3 * time.Second,
		Grace:    time.Second,
		Settle:   200 * time.Millisecond,
	}
	if err := b.Initialize(); err != nil {
		t.Fatal(err)
	}
	r, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Connected != b.N {
		t.Fatalf("%d of %d viewers connected: %v", r.Connected, b.N, r.ConnectErrors)
	}
	if r.Sent < 15 || r.Accepted != r.Sent || r.Refused != 0 || r.SendErrors != 0 {
		t.Errorf("sent %d, accepted %d, refused %d, send errors %d: want ~21 sent, all accepted", r.Sent, r.Accepted, r.Refused, r.SendErrors)
	}
	readers := int64(r.Connected - r.Stalled)
	if r.Stalled == 0 || r.Lost != 0 || r.ReadersDropped != 0 || r.Expected != r.Sent*readers {
		t.Errorf("stalled %d, lost %d, readers dropped %d, expected %d: want stalled > 0, nothing lost or dropped, %d × %d owed",
			r.Stalled, r.Lost, r.ReadersDropped, r.Expected, r.Sent, readers)
	}
	if r.StalledDropped != r.Stalled {
		t.Errorf("%d of %d stalled viewers dropped by the server's pings, want all", r.StalledDropped, r.Stalled)
	}
	if int64(r.LatencyMs.Count) != r.Sent*readers || r.LatencyMs.P99 <= 0 || r.Duplicates != 0 {
		t.Errorf("latency samples %d (p99 %.1f ms), duplicates %d: want %d samples", r.LatencyMs.Count, r.LatencyMs.P99, r.Duplicates, r.Sent*readers)
	}
}

func TestParseMachineCPU(t *testing.T) {
	a := parseMachineCPU([]byte("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	b := parseMachineCPU([]byte("cpu  200 0 100 900 50 0 0 0 10 0\n"))
	if a.busy != 150 || a.total != 1000 {
		t.Fatalf("parsed %+v, want busy 150 of 1000", a)
	}
	// 150 busy ticks of 250 (guest time not counted twice).
	if got := b.busyPercentSince(a); got != 60 {
		t.Errorf("busy %.1f%%, want 60%%", got)
	}
	if (machineCPU{}).busyPercentSince(a) != 0 || parseMachineCPU([]byte("garbage")) != (machineCPU{}) {
		t.Error("bad input not handled")
	}
}

// nextFrame and wsConn.frames parse server frames split anywhere across
// reads, reassemble fragments and pass control frames through.
func TestWSConn_frames(t *testing.T) {
	srv := func(fin bool, op byte, p string) []byte {
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
			f = append(f, 127, 0, 0, 0, 0, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
		}
		return append(f, p...)
	}
	big := strings.Repeat("b", 70000)
	mid := strings.Repeat("m", 300)
	var stream []byte
	stream = append(stream, srv(true, opText, "hello")...)
	stream = append(stream, srv(true, opPing, "")...)
	stream = append(stream, srv(false, opText, "frag-")...)
	stream = append(stream, srv(true, opCont, "ment")...)
	stream = append(stream, srv(true, opText, mid)...)
	stream = append(stream, srv(true, opText, big)...)
	stream = append(stream, srv(true, opClose, "\x03\xe8bye")...)
	want := []string{"1:hello", "9:", "1:frag-ment", "1:" + mid, "1:" + big, "8:\x03\xe8bye"}
	for _, step := range []int{1, 3, 7, 1000, len(stream)} {
		c := &wsConn{fd: -1}
		var got []string
		for i := 0; i < len(stream); i += step {
			if err := c.frames(stream[i:min(i+step, len(stream))], func(op byte, p []byte) {
				got = append(got, strconv.Itoa(int(op))+":"+string(p))
			}); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("step %d: got %d messages, want %d in order", step, len(got), len(want))
		}
		if len(c.partial) != 0 {
			t.Errorf("step %d: %d bytes left over", step, len(c.partial))
		}
	}
	if _, _, _, _, err := nextFrame([]byte{0x81, 0x85, 1, 2, 3, 4, 'x'}); err == nil {
		t.Error("a masked server frame was accepted")
	}
}

// Client frames are masked and decode back to the payload.
func TestClientFrame(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 70000} {
		p := []byte(strings.Repeat("p", n))
		f := clientFrame(opText, p)
		if f[0] != 0x81 || f[1]&0x80 == 0 {
			t.Fatalf("len %d: header %x, want FIN text, masked", n, f[:2])
		}
		h := len(f) - len(p) - 4
		m := f[h : h+4]
		dec := make([]byte, len(p))
		for i := range dec {
			dec[i] = f[h+4+i] ^ m[i&3]
		}
		if string(dec) != string(p) {
			t.Errorf("len %d: payload does not unmask to the original", n)
		}
	}
}
