package ingest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/salon/salon/ingest/stream"
)

// testCamera is a small RTSP server that plays what ffmpeg publishes to it,
// like an IP camera would serve its encoder's output. mu guards st and pub.
type testCamera struct {
	srv  *gortsplib.Server
	addr string
	mu   sync.Mutex
	st   *gortsplib.ServerStream
	pub  *gortsplib.ServerSession
}

func startCamera(t *testing.T, addr string) *testCamera {
	t.Helper()
	cam := &testCamera{}
	var err error
	for range 50 { // the port of a camera just closed may take a moment to free
		cam.srv = &gortsplib.Server{Handler: cam, RTSPAddress: addr,
			Listen: func(network, address string) (net.Listener, error) {
				ln, err := net.Listen(network, address)
				if err == nil {
					cam.addr = ln.Addr().String()
				}
				return ln, err
			}}
		if err = cam.srv.Start(); err == nil {
			return cam
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
	return nil
}

func (c *testCamera) close() { c.srv.Close() }

func (c *testCamera) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &gortsplib.ServerStream{Server: c.srv, Desc: ctx.Description}
	if err := st.Initialize(); err != nil {
		return &base.Response{StatusCode: base.StatusInternalServerError}, err
	}
	c.st, c.pub = st, ctx.Session
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (c *testCamera) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, c.st, nil
}

func (c *testCamera) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, c.st, nil
}

func (c *testCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (c *testCamera) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	ctx.Session.OnPacketRTPAny(func(m *description.Media, _ format.Format, pkt *rtp.Packet) {
		_ = st.WritePacketRTP(m, pkt)
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (c *testCamera) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Session == c.pub {
		c.st.Close()
		c.st, c.pub = nil, nil
	}
}

// feedCamera publishes a long test stream into the camera.
func feedCamera(t *testing.T, addr string) *ffmpegCmd {
	args := testInputs(true, true, 48000)
	args = append(args, "-t", "60")
	args = append(args, x264()...)
	args = append(args, "-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp", fmt.Sprintf("rtsp://%s/cam", addr))
	return startFFmpeg(t, args...)
}

func TestPuller_Reconnect(t *testing.T) {
	needTool(t, "ffmpeg")
	reg, rec := newTestRegistry(t)
	cam := startCamera(t, "127.0.0.1:0")
	addr := cam.addr
	ff := feedCamera(t, addr)

	p := &Puller{
		Stage:      "hall",
		URL:        fmt.Sprintf("rtsp://%s/cam", addr),
		Registry:   reg,
		Log:        testLogger(t),
		MinBackoff: 100 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond,
	}
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)

	unitsAfterStart := func(n, min int) func([]stream.Event) bool {
		return func(evs []stream.Event) bool {
			rs := runs(evs)
			return len(rs) >= n && len(rs[n-1].units) >= min
		}
	}
	rec.waitFor(t, "units from the camera", unitsAfterStart(1, 50))

	// The camera loses power, then comes back on the same address.
	ff.kill()
	cam.close()
	rec.waitFor(t, "the end of the first pull", func(evs []stream.Event) bool { return count(evs, isEnd) >= 1 })
	cam = startCamera(t, addr)
	defer cam.close()
	ff = feedCamera(t, addr)
	evs := rec.waitFor(t, "units from the restarted camera", unitsAfterStart(2, 50))

	p.Close()
	ff.kill()
	evs = rec.waitFor(t, "the end of the second pull", func(evs []stream.Event) bool { return count(evs, isEnd) >= 2 })
	rs := runs(evs)
	if len(rs) != 2 {
		t.Fatalf("%d publishes, want 2", len(rs))
	}
	for _, r := range rs {
		if r.start.Source != "pull" {
			t.Errorf("source = %q, want pull", r.start.Source)
		}
		checkRun(t, r, "hall", "H264", "AAC")
	}
}

func TestParsePull(t *testing.T) {
	cases := []struct {
		in, stage, url, err string
	}{
		{in: "main=rtsp://192.168.1.20:554/stream1", stage: "main", url: "rtsp://192.168.1.20:554/stream1"},
		{in: "hall-2=rtsps://user:pw@cam.local/live?x=1", stage: "hall-2", url: "rtsps://user:pw@cam.local/live?x=1"},
		{in: "rtsp://cam/stream", err: "want STAGE="},
		{in: "Main=rtsp://cam/stream", err: "invalid stage name"},
		{in: "=rtsp://cam/stream", err: "invalid stage name"},
		{in: "main=http://cam/stream", err: "use rtsp://"},
		{in: "main=", err: "invalid camera URL"},
		{in: "main=rtsp:///path", err: "no host"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			stage, url, err := ParsePull(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParsePull(%q) error = %v, want one containing %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil || stage != tc.stage || url != tc.url {
				t.Fatalf("ParsePull(%q) = %q, %q, %v; want %q, %q", tc.in, stage, url, err, tc.stage, tc.url)
			}
		})
	}
}

func FuzzParsePull(f *testing.F) {
	for _, s := range []string{"main=rtsp://192.168.1.20:554/stream1", "x=rtsps://u:p@h/p?q", "=", "a=rtsp://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stage, url, err := ParsePull(s)
		if err != nil {
			return
		}
		if !stream.ValidStage(stage) {
			t.Fatalf("accepted invalid stage %q", stage)
		}
		if !strings.HasPrefix(url, "rtsp://") && !strings.HasPrefix(url, "rtsps://") {
			t.Fatalf("accepted URL %q", url)
		}
	})
}
