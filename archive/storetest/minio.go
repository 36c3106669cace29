package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/salon/salon/internal/testkit"
)

// MinIOModule is what .ci/run installs; the skip message names it.
const MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// minioReady bounds how long one start may take.
const minioReady = 20 * time.Second

// MinIOBinary returns the MinIO server binary to test with: $SALON_MINIO,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/salon/bin/minio (where .ci/run installs
// it), else minio on PATH; "" when there is none.
func MinIOBinary() string { return testkit.ServiceBinary("SALON_MINIO", "minio") }

// MinIO starts a real MinIO server for the test on 127.0.0.1 with fresh
// random root credentials and an empty temp data directory, waits until it
// is ready, and stops it on t.Cleanup. endpoint is "127.0.0.1:PORT" (no
// scheme; plain http). stop stops the server (it blocks until the process
// has exited); start starts it again on the same port and data directory,
// so a test can simulate an outage. Both are idempotent and fail the test
// when MinIO does not come back. The test is skipped when MinIO is not
// installed.
func MinIO(t testing.TB) (endpoint, accessKey, secretKey string, stop func(), start func()) {
	t.Helper()
	bin := MinIOBinary()
	if bin == "" {
		t.Skip("MinIO not installed: .ci/run installs it with go install " + MinIOModule +
			" (or set SALON_MINIO to a minio binary)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("MinIO binary %s (SALON_MINIO): %v", bin, err)
	}
	m := &minioServer{
		t:      t,
		bin:    bin,
		data:   t.TempDir(),
		user:   "salon-" + randomHex(6),
		secret: randomHex(20),
	}
	// A port picked by closing a listener can be taken again before MinIO
	// binds it; pick new ports and retry on that clash.
	var err error
	for range 5 {
		m.port, m.console = testkit.FreePort(t), testkit.FreePort(t)
		if err = m.start(); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.stop)
	start = func() {
		t.Helper()
		if err := m.start(); err != nil {
			t.Fatal(err)
		}
	}
	return "127.0.0.1:" + m.port, m.user, m.secret, m.stop, start
}

var errPortTaken = errors.New("port already in use")

// minioServer is one MinIO process and how to start it again. mu guards cmd
// and exited.
type minioServer struct {
	t                       testing.TB
	bin, data, user, secret string
	port, console           string
	mu                      sync.Mutex
	cmd                     *exec.Cmd
	exited                  chan struct{} // closed when cmd has exited
	out                     *testkit.LogBuffer
}

func (m *minioServer) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	cmd := exec.Command(m.bin, "server",
		"--address", "127.0.0.1:"+m.port,
		"--console-address", "127.0.0.1:"+m.console,
		"--quiet", m.data)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.user,
		"MINIO_ROOT_PASSWORD="+m.secret,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	out := &testkit.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start MinIO %s: %w", m.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	base := "http://127.0.0.1:" + m.port
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(minioReady)
	for _, path := range []string{"/minio/health/live", "/minio/health/ready"} {
		for {
			resp, err := client.Get(base + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-exited:
				err := fmt.Errorf("MinIO exited before it was ready: %s", out.String())
				if strings.Contains(out.String(), "address already in use") {
					err = fmt.Errorf("%w: %w", errPortTaken, err)
				}
				return err
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				kill(cmd, exited)
				return fmt.Errorf("MinIO not ready at %s%s after %v: %s", base, path, minioReady, out.String())
			}
		}
	}
	m.cmd, m.exited, m.out = cmd, exited, out
	return nil
}

// stop ends the MinIO process this helper started: SIGTERM, then SIGKILL if
// it has not exited after 10 s.
func (m *minioServer) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	kill(m.cmd, m.exited)
	m.cmd, m.exited = nil, nil
}

func kill(cmd *exec.Cmd, exited chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
