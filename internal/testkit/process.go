package testkit

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// NeedTool returns the path of a program the test needs, or skips the test
// with a message saying what to install (CI installs them all).
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install ffmpeg / gstreamer1.0-tools / chromium): %v", name, err)
	}
	return p
}

// Process is a child program a test runs (an ffmpeg publisher): stopped
// and waited for when the test ends.
type Process struct {
	Cmd    *exec.Cmd
	Stderr LogBuffer
	done   chan struct{}
	err    error
}

// StartFFmpeg runs ffmpeg with args (after -hide_banner -nostdin
// -loglevel warning); it skips the test when ffmpeg is missing.
func StartFFmpeg(t testing.TB, args ...string) *Process {
	t.Helper()
	bin := NeedTool(t, "ffmpeg")
	ctx, cancel := context.WithCancel(context.Background())
	p := &Process{done: make(chan struct{})}
	p.Cmd = exec.CommandContext(ctx, bin, append([]string{"-hide_banner", "-nostdin", "-loglevel", "warning"}, args...)...)
	p.Cmd.Stderr = &p.Stderr
	if err := p.Cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// Done is closed when the program has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits up to limit for the program to exit and returns its error.
func (p *Process) Wait(t testing.TB, limit time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %s; stderr:\n%s", p.Cmd.Path, limit, p.Stderr.String())
		return nil
	}
}
