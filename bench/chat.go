package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Chat connects N websocket viewers to one stage's chat, has Senders of them
// post Rate messages per second in total for Duration, and measures connect
// time, delivery latency and lost messages, plus the server's CPU and memory.
// Fill the parameters, call Initialize, then Run once.
//
// Each viewer dials from its own loopback source address, PerIP viewers per
// address, so salon's per-IP limits (connections, message rate) stay on and
// see what a venue of many people would look like.
type Chat struct {
	// parameters

	// URL is salon's base URL (http://127.0.0.1:8080, the chat is then
	// /ws/chat/{Stage}) or the chat's ws:// URL itself. Loopback only.
	// Several nodes of one deployment: their URLs, comma-separated; the
	// viewers of each source address go to one node, in turn, and the
	// delivery latency is told apart within a node and across nodes.
	URL   string
	Stage string // default "main"
	// N is the number of viewers; Senders of them post, Rate messages per
	// second in total, spread evenly over the senders.
	N       int
	Senders int
	Rate    float64
	// Stalled is the fraction of viewers (never senders) that read their
	// welcome and then stop reading, like a frozen browser tab.
	Stalled float64
	// Duration is how long the senders post (default 60 s); Grace how long
	// the tool waits for deliveries afterwards (default 5 s); Settle how long
	// the connected, idle viewers sit before sending starts, for the idle RSS
	// reading (default 5 s).
	Duration, Grace, Settle time.Duration
	// Concurrency bounds connection attempts in flight (default 100).
	Concurrency int
	// PerIP is the number of viewers per loopback source address (default 8;
	// salon allows 20). Senders are spread one per address so each address
	// posts well under salon's rate limit.
	PerIP int
	// Source is the first loopback source address (default 127.1.0.1).
	Source string
	// PID of the salon process to sample (0: none); PIDs, of each node
	// when URL names several.
	PID  int
	PIDs []int
	// Reconnect: a viewer whose connection ends while sending (its node
	// was lost) dials the next node, as a browser behind a load balancer
	// would; the result says how soon it was back.
	Reconnect bool
	// Log receives progress events (default: discard).
	Log *slog.Logger

	// private

	wsURL   string
	wsURLs  []string // one per node
	source  net.IP
	senders []int // viewer indexes
}

// Initialize validates the parameters and fills defaults.
func (b *Chat) Initialize() error {
	if b.Stage == "" {
		b.Stage = "main"
	}
	if b.Duration == 0 {
		b.Duration = 60 * time.Second
	}
	if b.Grace == 0 {
		b.Grace = 5 * time.Second
	}
	if b.Settle == 0 {
		b.Settle = 5 * time.Second
	}
	if b.Concurrency == 0 {
		b.Concurrency = 100
	}
	if b.PerIP == 0 {
		b.PerIP = 8
	}
	if b.Source == "" {
		b.Source = "127.1.0.1"
	}
	if b.Log == nil {
		b.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case b.N <= 0:
		return fmt.Errorf("-n must be at least 1 (got %d)", b.N)
	case b.Senders < 0 || b.Senders > b.N:
		return fmt.Errorf("-senders must be between 0 and -n (got %d)", b.Senders)
	case b.Rate < 0 || (b.Rate > 0 && b.Senders == 0):
		return fmt.Errorf("-rate %g needs -senders > 0", b.Rate)
	case b.Stalled < 0 || b.Stalled >= 1:
		return fmt.Errorf("-stalled is a fraction in [0, 1) (got %g)", b.Stalled)
	case b.Duration < 0 || b.Grace < 0 || b.Settle < 0:
		return errors.New("-duration, -grace and -settle must be positive")
	case b.Concurrency < 0 || b.PerIP < 0:
		return errors.New("-concurrency and -per-ip must be positive")
	case b.PID < 0:
		return fmt.Errorf("-pid must be a process id (got %d)", b.PID)
	}
	for _, u := range strings.Split(b.URL, ",") {
		ws, err := chatURL(strings.TrimSpace(u), b.Stage)
		if err != nil {
			return err
		}
		b.wsURLs = append(b.wsURLs, ws)
	}
	b.wsURL = strings.Join(b.wsURLs, ",")
	if b.PID != 0 && len(b.PIDs) == 0 {
		b.PIDs = []int{b.PID}
	}
	b.source = net.ParseIP(b.Source).To4()
	if b.source == nil || !b.source.IsLoopback() {
		return fmt.Errorf("-source %q is not an IPv4 loopback address (127.x.y.z)", b.Source)
	}
	addrs := (b.N + b.PerIP - 1) / b.PerIP
	if b.Senders > addrs {
		return fmt.Errorf("-senders %d is more than the %d source addresses (-n %d / -per-ip %d): senders on one address share its rate limit", b.Senders, addrs, b.N, b.PerIP)
	}
	// Senders are the first viewer of evenly spaced addresses.
	for k := range b.Senders {
		b.senders = append(b.senders, k*addrs/b.Senders*b.PerIP)
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	if need := uint64(b.N) + 64; need > limit {
		return fmt.Errorf("-n %d needs about %d file descriptors but the limit is %d: raise the hard limit (ulimit -Hn, or LimitNOFILE= for a service)", b.N, need, limit)
	}
	return nil
}

// chatURL turns -url and -stage into the chat's websocket URL and refuses
// anything but loopback: the tool's source addresses only exist there.
func chatURL(raw, stage string) (string, error) {
	if raw == "" {
		return "", errors.New("-url is required: salon's address, e.g. http://127.0.0.1:8080")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("-url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("-url %q: want http://, https://, ws:// or wss://", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws/chat/" + url.PathEscape(stage)
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("-url host %q is not loopback: the chat load tool dials from many 127.x.y.z addresses, which only works on this machine", h)
	}
	return u.String(), nil
}

// sourceAddr is the i-th loopback source address after base, skipping
// addresses ending in .0 and .255.
func sourceAddr(base net.IP, i int) net.IP {
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	// Map i onto the 254 usable last octets of each /24.
	first := v&^0xff | max(1, v&0xff)
	start := int(first&0xff) - 1 // 0..253
	n := start + i
	v = first&^0xff + uint32(n/254)<<8 + uint32(n%254) + 1
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// chatViewer is one connection. Fields written by its reader goroutine are
// read by Run only after that goroutine ended; connMu guards conn while a
// reconnection replaces it (the sending loop reads it meanwhile).
type chatViewer struct {
	connMu  sync.Mutex
	conn    *wsConn
	stalled bool
	sender  bool
	node    int    // index of its node's URL
	src     net.IP // its source address
	route   *atomic.Pointer[chatRoute]

	same, cross latencyHist     // deliveries of messages sent on its node, on another
	back        []time.Duration // reconnections: connection end → welcome on another node

	connectErr string
	connect    time.Duration
	joined     int64 // stamp when the welcome arrived
	left       int64 // stamp when the server ended the connection; 0: alive at the end
	leftErr    string
	recv       bitset
	hist       latencyHist
	frames     int64
	dups       int64
	refused    int64 // error frames "rate_limited" (senders)
	errFrames  int64 // other error frames
}

// Run connects, idles, sends, waits for deliveries and reports. An error
// means the run could not be measured at all.
func (b *Chat) Run(ctx context.Context) (*ChatResult, error) {
	salon := make([][4]procSample, len(b.PIDs))
	sample := func(i int) error {
		for k, pid := range b.PIDs {
			s, err := sampleProc(strconv.Itoa(pid))
			switch {
			case err == nil:
				salon[k][i] = s
			case i > 0 && len(b.PIDs) > 1:
				// A node killed during the run: its last reading stands.
				salon[k][i] = salon[k][i-1]
				salon[k][i].at = time.Now()
			default:
				return err
			}
		}
		return nil
	}
	if err := sample(0); err != nil {
		return nil, err
	}
	var machine [2]machineCPU
	self0, err := sampleProc("self")
	if err != nil {
		return nil, err
	}
	base := time.Now()
	stamp := func() int64 { return int64(time.Since(base)) }

	maxMsgs := int(b.Rate*(b.Duration+time.Second).Seconds()) + 16
	viewers := make([]*chatViewer, b.N)
	isSender := make(map[int]bool, len(b.senders))
	for _, i := range b.senders {
		isSender[i] = true
	}
	stalledN := 0
	route := &atomic.Pointer[chatRoute]{}
	for i := range viewers {
		v := &chatViewer{sender: isSender[i], recv: newBitset(maxMsgs), route: route,
			node: i / b.PerIP % len(b.wsURLs), src: sourceAddr(b.source, i/b.PerIP)}
		// Spread the stalled viewers evenly over the non-senders.
		if !v.sender && int(float64(i+1)*b.Stalled) > int(float64(i)*b.Stalled) {
			v.stalled = true
			stalledN++
		}
		viewers[i] = v
	}

	// Connect. Readers are read by a few epoll loops, one per CPU.
	b.Log.Info("connecting", "url", b.wsURL, "n", b.N, "concurrency", b.Concurrency)
	var finishing atomic.Bool
	loops := make([]*epollLoop, runtime.GOMAXPROCS(0))
	var reconnecting sync.WaitGroup
	handle := func(v *chatViewer, data []byte, now int64, err error) {
		v.handle(data, now, err, &finishing)
		if b.Reconnect && v.left == now && v.conn.ended && !finishing.Load() {
			reconnecting.Go(func() { b.reconnect(ctx, v, loops, stamp, &finishing) })
		}
	}
	for i := range loops {
		l, err := newEpollLoop(stamp, handle)
		if err != nil {
			for _, l := range loops[:i] {
				_ = l.stop()
			}
			return nil, err
		}
		loops[i] = l
	}
	var addErr atomic.Value
	sem := make(chan struct{}, b.Concurrency)
	var connecting sync.WaitGroup
	connectStart := time.Now()
	for i, v := range viewers {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		connecting.Go(func() {
			defer func() { <-sem }()
			b.connect(ctx, v, v.node, stamp)
			if v.conn == nil || v.stalled {
				return
			}
			v.handle(nil, stamp(), nil, &finishing) // frames that came with the welcome
			if err := loops[i%len(loops)].add(v); err != nil {
				addErr.Store(err)
			}
		})
	}
	connecting.Wait()
	if err, _ := addErr.Load().(error); err != nil {
		for _, l := range loops {
			_ = l.stop()
		}
		return nil, fmt.Errorf("read the viewers' sockets: %w", err)
	}
	connectTotal := time.Since(connectStart)
	if err := sample(1); err != nil {
		return nil, err
	}
	connected := 0
	for _, v := range viewers {
		if v.conn != nil {
			connected++
		}
	}
	b.Log.Info("connected", "viewers", connected, "of", b.N, "took", connectTotal.Round(time.Millisecond))

	sleepCtx(ctx, b.Settle)
	if err := sample(2); err != nil {
		return nil, err
	}
	machine[0] = readMachineCPU()

	// Send, in turn from the senders that connected.
	var senders []*chatViewer
	r0 := &chatRoute{}
	for _, i := range b.senders {
		if v := viewers[i]; v.conn != nil {
			senders = append(senders, v)
			r0.nodes = append(r0.nodes, v.node)
		}
	}
	route.Store(r0)
	b.Log.Info("sending", "senders", len(senders), "rate", b.Rate, "duration", b.Duration)
	sent := make([]int64, 0, maxMsgs)
	var sendErrs int64
	if b.Rate > 0 && len(senders) > 0 {
		interval := time.Duration(float64(time.Second) / b.Rate)
		sendStart := time.Now()
		for j := 0; ; j++ {
			at := sendStart.Add(time.Duration(j) * interval)
			if at.Sub(sendStart) >= b.Duration || len(sent) >= maxMsgs || !sleepUntil(ctx, at) {
				break
			}
			v := senders[j%len(senders)]
			id := uint64(len(sent))
			st := stamp()
			sent = append(sent, st)
			msg := `{"type":"chat","text":"` + stampText(id, st) + `"}`
			v.connMu.Lock()
			c := v.conn
			v.connMu.Unlock()
			if err := c.sendText([]byte(msg)); err != nil {
				sendErrs++
			}
		}
	} else {
		sleepCtx(ctx, b.Duration)
	}
	sendEnd := stamp()
	sleepCtx(ctx, b.Grace)
	if err := sample(3); err != nil {
		return nil, err
	}
	machine[1] = readMachineCPU()
	self1, err := sampleProc("self")
	if err != nil {
		return nil, err
	}

	// Stop: readers first, so their ends do not count as drops; stalled
	// viewers then drain what the server queued for them to learn whether it
	// dropped them.
	finishing.Store(true)
	reconnecting.Wait()
	b.Log.Info("finishing")
	var stalledDropped atomic.Int64
	var drains sync.WaitGroup
	var loopErr error
	for _, l := range loops {
		if err := l.stop(); err != nil {
			loopErr = err
		}
	}
	for _, v := range viewers {
		switch {
		case v.conn == nil:
		case v.stalled:
			drains.Go(func() {
				if v.conn.serverClosed() {
					stalledDropped.Add(1)
				}
			})
		default:
			v.conn.Close()
		}
	}
	drains.Wait()
	if loopErr != nil {
		return nil, fmt.Errorf("reading the viewers' sockets failed: %w", loopErr)
	}
	for _, v := range viewers {
		if v.conn != nil && v.stalled {
			v.conn.Close()
		}
	}

	r := b.summarize(viewers, sent, sendEnd)
	r.SendErrors = sendErrs
	r.Stalled = stalledN
	r.StalledDropped = int(stalledDropped.Load())
	r.ConnectTotalSeconds = connectTotal.Seconds()
	r.Interrupted = ctx.Err() != nil
	for k, pid := range b.PIDs {
		r.SalonNodes = append(r.SalonNodes, chatProc(pid, salon[k], r.Connected/len(b.PIDs)))
	}
	if len(r.SalonNodes) == 1 {
		r.Salon, r.SalonNodes = r.SalonNodes[0], nil
	}
	r.Tool = usageBetween(os.Getpid(), self0, self1)
	r.MachineBusyPercentLoad = machine[1].busyPercentSince(machine[0])
	r.Cores = runtime.NumCPU()
	return r, nil
}

// connect dials node from the viewer's address and waits for the welcome
// frame.
func (b *Chat) connect(ctx context.Context, v *chatViewer, node int, stamp func() int64) {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, rest, err := dialWS(cctx, b.wsURLs[node], v.src)
	if err != nil {
		v.connectErr = err.Error()
		var hs errHTTPStatus
		if errors.As(err, &hs) {
			v.connectErr = hs.Error()
		}
		return
	}
	msg, err := conn.readWelcome(rest, time.Now().Add(20*time.Second))
	if err != nil || frameKind(msg) != "welcome" {
		conn.Close()
		v.connectErr = "no welcome frame"
		if err != nil {
			v.connectErr = "no welcome frame: " + errorKind(err)
		}
		return
	}
	v.connect = time.Since(start)
	v.joined = stamp()
	v.connMu.Lock()
	v.conn = conn
	v.connMu.Unlock()
}

// handle takes the bytes of one read of the viewer's socket, received at
// now, or the error that ended it.
func (v *chatViewer) handle(data []byte, now int64, err error, finishing *atomic.Bool) {
	c := v.conn
	if err == nil {
		err = c.frames(data, func(op byte, p []byte) {
			switch op {
			case opText:
				v.message(p, now)
			case opPing:
				// Never wait here: the loop reads thousands of viewers.
				// A pong skipped is harmless (any frame proves the viewer
				// alive, and the next ping comes 10 s later).
				if werr := c.tryWrite(opPong, p); werr != nil && err == nil {
					err = werr
				}
			case opClose:
				if err == nil {
					err = closeErr(p)
					_ = c.tryWrite(opClose, p[:min(len(p), 2)])
				}
			}
		})
	}
	if err == nil {
		return
	}
	c.ended = true
	if !finishing.Load() {
		v.left = now
		v.leftErr = errorKind(err)
		var fe frameError
		switch {
		case strings.HasPrefix(err.Error(), "closed "):
			v.leftErr = err.Error()
		case errors.Is(err, errEOF):
			v.leftErr = "server closed the connection without a close frame"
		case errors.As(err, &fe):
			v.leftErr = "bad frame: " + fe.Error()
		case v.leftErr == "network":
			v.leftErr = "network: " + err.Error()
		}
	}
}

// message counts one message from the server.
func (v *chatViewer) message(m []byte, now int64) {
	v.frames++
	switch frameKind(m) {
	case "chat":
		if id, st, ok := parseStamp(m); ok {
			d := time.Duration(now - st)
			v.hist.add(d)
			if r := v.route.Load(); r != nil && len(r.nodes) > 1 {
				if r.nodes[id%uint64(len(r.nodes))] == v.node {
					v.same.add(d)
				} else {
					v.cross.add(d)
				}
			}
			if v.recv.set(id) {
				v.dups++
			}
		}
	case "error":
		if bytes.Contains(m, []byte(`"code":"rate_limited"`)) {
			v.refused++
		} else {
			v.errFrames++
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// machineCPU is one reading of the first line of /proc/stat (all CPUs), in
// clock ticks: the machine's busy time includes processes other than salon
// and the tool, which a shared machine has.
type machineCPU struct{ busy, total uint64 }

func readMachineCPU() machineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	return parseMachineCPU(b)
}

func parseMachineCPU(b []byte) machineCPU {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return machineCPU{}
	}
	var m machineCPU
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return machineCPU{}
		}
		if i == 8 || i == 9 {
			continue // guest time is already counted in user time
		}
		m.total += n
		if i != 3 && i != 4 { // idle, iowait
			m.busy += n
		}
	}
	return m
}

// busyPercentSince is the share of all cores that was busy between two
// readings (100 = every core busy).
func (m machineCPU) busyPercentSince(prev machineCPU) float64 {
	if m.total <= prev.total {
		return 0
	}
	return float64(m.busy-prev.busy) / float64(m.total-prev.total) * 100
}
