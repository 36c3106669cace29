package transcode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// process is one ffmpeg child: its stdin (the MPEG-TS feed), its progress
// (fd 3) and the tail of its stderr. It runs in a process group of its own,
// so a stop reaches everything it started, and it is always waited for: no
// zombie. The fields set by startProcess are read-only after it returns.
type process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	pid     int
	started time.Time
	tail    *tailBuffer

	// frames is the last frame count ffmpeg reported; progressAt when it
	// last grew (Unix ns).
	frames     atomic.Int64
	progressAt atomic.Int64
	// fedAt is when the feed last wrote a unit to stdin (Unix ns).
	fedAt atomic.Int64

	done    chan struct{} // closed once the child was waited for
	waitErr error         // set before done is closed

	stopOnce sync.Once
}

// startProcess starts ffmpeg with args. The context kills the whole group
// when cancelled (SIGTERM, then SIGKILL after grace).
func startProcess(ctx context.Context, ffmpeg string, args []string, grace time.Duration) (*process, error) {
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = grace // then Go kills it (SIGKILL) and closes the pipes
	p := &process{cmd: cmd, tail: newTailBuffer(12, 400), done: make(chan struct{})}
	cmd.Stderr = p.tail
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{pw} // fd 3: -progress pipe:3
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	pw.Close() // the child holds the write end now: EOF when it exits
	p.stdin, p.pid, p.started = stdin, cmd.Process.Pid, time.Now()
	p.progressAt.Store(p.started.UnixNano())
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		p.readProgress(pr)
		pr.Close()
	}()
	go func() {
		err := cmd.Wait()
		<-progressDone
		// The group may hold something ffmpeg started (a hardware helper):
		// it goes with its leader.
		_ = signalGroup(p.pid, syscall.SIGKILL)
		p.waitErr = err
		close(p.done)
	}()
	return p, nil
}

// readProgress follows ffmpeg's -progress key=value lines.
func (p *process) readProgress(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "frame=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err == nil && n > p.frames.Load() {
			p.frames.Store(n)
			p.progressAt.Store(time.Now().UnixNano())
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// stop ends the child: closing stdin lets ffmpeg finish what it has (it
// exits at the end of its input); after grace the group gets SIGTERM, and
// after another grace SIGKILL. It returns once the child was waited for.
func (p *process) stop(grace time.Duration) {
	p.stopOnce.Do(func() { _ = p.stdin.Close() })
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = signalGroup(p.pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = signalGroup(p.pid, syscall.SIGKILL)
	<-p.done
}

// kill ends the child at once (it stopped producing).
func (p *process) kill() {
	_ = signalGroup(p.pid, syscall.SIGKILL)
	<-p.done
}

// exitError describes how the child ended, for a person: the exit status or
// signal and ffmpeg's last words.
func (p *process) exitError() string {
	var msg string
	var ee *exec.ExitError
	switch {
	case p.waitErr == nil:
		msg = "exited"
	case errors.As(p.waitErr, &ee):
		msg = ee.ProcessState.String() // "exit status 1", "signal: killed"
	default:
		msg = p.waitErr.Error()
	}
	if last := p.tail.Last(); last != "" {
		msg += ": " + last
	}
	return msg
}

// tailBuffer keeps the last lines written to it (ffmpeg's stderr): a line
// count and a line length bound its memory whatever ffmpeg prints.
type tailBuffer struct {
	maxLines, maxLen int

	mu      sync.Mutex
	lines   []string
	partial []byte
}

func newTailBuffer(lines, length int) *tailBuffer {
	return &tailBuffer{maxLines: lines, maxLen: length}
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			if room := t.maxLen - len(t.partial); room > 0 {
				t.partial = append(t.partial, b[:min(room, len(b))]...)
			}
			break
		}
		if room := t.maxLen - len(t.partial); room > 0 {
			t.partial = append(t.partial, b[:min(room, i)]...)
		}
		if line := strings.TrimSpace(string(t.partial)); line != "" {
			t.lines = append(t.lines, line)
			if len(t.lines) > t.maxLines {
				t.lines = append(t.lines[:0], t.lines[len(t.lines)-t.maxLines:]...)
			}
		}
		t.partial = t.partial[:0]
		b = b[i+1:]
	}
	return n, nil
}

// Lines returns the kept lines, oldest first (a partial last line included).
func (t *tailBuffer) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if s := strings.TrimSpace(string(t.partial)); s != "" {
		out = append(out, s)
	}
	return out
}

// Last is the last line, or "".
func (t *tailBuffer) Last() string {
	l := t.Lines()
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}

func (t *tailBuffer) String() string { return strings.Join(t.Lines(), " | ") }

var _ fmt.Stringer = (*tailBuffer)(nil)
