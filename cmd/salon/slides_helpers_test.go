package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// multipartFile is a multipart/form-data body with one part "file" holding
// size bytes of data, streamed (never held whole), and its exact length.
func multipartFile(name string, data io.Reader, size int64) (body io.Reader, contentType string, length int64) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.CreateFormFile("file", name)
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	return io.MultiReader(bytes.NewReader(head.Bytes()), data, strings.NewReader(tail)),
		mw.FormDataContentType(), int64(head.Len()) + size + int64(len(tail))
}

// uploadOpts tunes uploadSlides.
type uploadOpts struct {
	chunked bool // no Content-Length: the server learns the size only by reading
}

// uploadSlides posts a slide file as a speaker (or the organiser, with the
// admin token) would. It returns the status, the JSON answer and how many
// bytes of the body the client sent.
func uploadSlides(t testing.TB, url, token, name string, data io.Reader, size int64, o uploadOpts) (int, map[string]any, int64) {
	t.Helper()
	body, ctype, length := multipartFile(name, data, size)
	cr := &countingReader{r: body}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, io.NopCloser(cr))
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if !o.chunked {
		req.ContentLength = length
		req.Header.Set("Expect", "100-continue")
	}
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, m, cr.n.Load()
}

// countingReader counts what the client sent; the transport may still be
// sending when the response has come, hence the atomic.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// patternReader gives n bytes quickly, starting with a PDF header, so that a
// big upload passes the type check; the rest repeats a 1 MiB block of
// pseudo-random bytes, so that nothing on the way can compress it, copied
// rather than computed per byte (which took minutes under -race).
type patternReader struct {
	n, off int64
}

func newDeck(n int64) *patternReader { return &patternReader{n: n} }

const deckHeader = "%PDF-1.7\n%salon test deck\n"

// deckBlock is the repeated block; it starts with deckHeader.
var deckBlock = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<20)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	copy(b, deckHeader)
	return b
})

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	block := deckBlock()
	n := 0
	for n < len(b) {
		c := copy(b[n:], block[(p.off+int64(n))%int64(len(block)):])
		n += c
	}
	p.off += int64(n)
	return n, nil
}

// bucketState is every talks/ key of the app's archive with its ETag, one
// per line: a refused request must leave it exactly as it was.
func bucketState(t testing.TB, a *app) string {
	t.Helper()
	objs, err := a.store.List(context.Background(), "talks/")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key+" "+o.ETag)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// childSalon is a salon in its own process (this test binary, run as salon),
// so that its memory can be read from /proc apart from the test's.
type childSalon struct {
	cmd        *exec.Cmd
	base       string // http://127.0.0.1:PORT
	adminToken string
	stderr     *syncBuffer
}

// plainSalon is salon built without the race detector, once per test
// process: the race detector's shadow memory would make a child's RSS
// meaningless, and CI always runs the tests with -race.
var plainSalon = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "salon-plain-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "salon")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// childBinary is the program a child salon runs: this test binary (which
// runs main under SALON_TEST_MAIN), or, under -race, salon built without it.
func childBinary(t testing.TB) string {
	t.Helper()
	if !raceEnabled {
		return os.Args[0]
	}
	bin, err := plainSalon()
	if err != nil {
		t.Fatalf("build salon without -race for a child process: %v", err)
	}
	return bin
}

// startChildSalon starts salon on the MinIO bucket with extra flags and waits
// until it answers /healthz. It is killed when the test ends.
func startChildSalon(t testing.TB, mb minioBucket, flags ...string) *childSalon {
	t.Helper()
	addr := freePort(t)
	c := &childSalon{base: "http://" + addr, adminToken: "child-admin-token", stderr: &syncBuffer{}}
	args := append([]string{"-http", addr, "-rtsp", "", "-rtmp", "", "-data", t.TempDir(),
		"-archive", "s3:http://" + mb.endpoint + "/" + mb.bucket, "-admin-token", c.adminToken, "-log-level", "warn"}, flags...)
	c.cmd = exec.Command(childBinary(t), args...)
	c.cmd.Env = append(os.Environ(), "SALON_TEST_MAIN=1", "AWS_ACCESS_KEY_ID="+mb.key, "AWS_SECRET_ACCESS_KEY="+mb.secret)
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(c.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the salon child did not start; stderr:\n%s", c.stderr.String())
		}
	}
}

// rssSampler reads a process's resident memory (VmRSS) every few
// milliseconds until stopped and keeps the highest value.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	peak int64
}

func vmRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the memory of process %d: %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q", line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func sampleRSS(t testing.TB, pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{}), peak: vmRSS(t, pid)}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
				if err != nil {
					continue
				}
				for line := range strings.Lines(string(b)) {
					if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
						s.peak = max(s.peak, kb<<10)
					}
				}
			}
		}
	}()
	return s
}

// Peak stops sampling and returns the highest VmRSS seen, in bytes.
func (s *rssSampler) Peak() int64 {
	close(s.stop)
	<-s.done
	return s.peak
}
