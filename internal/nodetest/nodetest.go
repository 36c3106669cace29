// Package nodetest runs salon deployments of several nodes as real
// processes for tests: the salon binary built once per test package, a
// NATS cluster (natstest), one MinIO bucket shared by every node
// (storetest), each node with its own data directory and loopback ports.
// A node can be killed with SIGKILL and started again; each node's log is
// kept and printed when the test fails.
//
//	func TestMain(m *testing.M) { os.Exit(nodetest.Main(m)) }
//
//	d := nodetest.Start(t, nodetest.Options{Nodes: 3})
//	d.Node(0).Kill()
//	d.Node(0).Start()
//
// Tests using it belong in a package of their own (cmd/salon/nodes_test),
// which go test runs in parallel with cmd/salon's in-process tests.
package nodetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
	"github.com/salon/salon/internal/natstest"
	"github.com/salon/salon/internal/testkit"
)

// BinaryEnv names a salon binary to run instead of building one (Main sets
// it for the test package).
const BinaryEnv = "SALON_TEST_BINARY"

// Credentials every node is started with.
const (
	AdminToken = "nodetest-admin-token"
	PublishKey = "nodetest-publish-key"
)

// ready bounds a node's start: joining NATS, opening the bucket.
const ready = 60 * time.Second

// Main builds the salon binary once for the test package (without -race:
// the nodes are the system under test, not the race detector's), runs the
// tests and removes it. Use it as the package's TestMain.
func Main(m *testing.M) int {
	if os.Getenv(BinaryEnv) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "salon-nodetest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "salon")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/salon/salon/cmd/salon")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "nodetest: go build ./cmd/salon:", err)
		return 1
	}
	os.Setenv(BinaryEnv, bin)
	return m.Run()
}

// Options shape a deployment.
type Options struct {
	Nodes       int // salon nodes, default 3
	NATSServers int // nats-server cluster size, default 3
	// Args are extra flags for every node.
	Args []string
	// Cuttable: each node reaches NATS only through a proxy to one server
	// (node i to server i % NATSServers), which Node.CutNATS cuts; the
	// servers do not tell clients about each other.
	Cuttable bool
	// Netns: the first node runs in a network namespace of its own,
	// reaching NATS and the bucket through proxies on its veth pair, so
	// that Node.CutNetwork cuts it off from everything (viewers,
	// publishers, NATS, the bucket). The test is skipped where namespaces
	// cannot be made (not root).
	Netns bool
	// Setup runs once the first node is healthy, before the others start
	// (a talk created there is in the library the others load at start).
	Setup func(first *Node)
}

// Deployment is a running set of salon nodes with their NATS cluster and
// bucket.
type Deployment struct {
	NATS    *natstest.Nodes
	Archive string // -archive of every node: s3:http://127.0.0.1:PORT/salon
	env     []string
	minio   string // 127.0.0.1:PORT
	nodes   []*Node
	t       testing.TB
	bin     string
	// Bucket reads what the nodes stored.
	Bucket archive.Store
}

// Start starts a deployment and stops it when the test ends. It skips the
// test when nats-server or MinIO is not installed.
func Start(t testing.TB, o Options) *Deployment {
	t.Helper()
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.NATSServers <= 0 {
		o.NATSServers = 3
	}
	bin := os.Getenv(BinaryEnv)
	if bin == "" {
		t.Fatalf("nodetest: no salon binary: call nodetest.Main from the package's TestMain (or set %s)", BinaryEnv)
	}
	d := &Deployment{t: t, bin: bin}
	if o.Cuttable {
		d.NATS = natstest.Cluster(t, o.NATSServers, natstest.NoAdvertise())
	} else {
		d.NATS = natstest.Cluster(t, o.NATSServers)
	}
	endpoint, access, secret, _, _ := storetest.MinIO(t)
	d.Archive = "s3:http://" + endpoint + "/salon"
	d.minio = endpoint
	d.env = []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret}
	getenv := func(k string) string {
		switch k {
		case "AWS_ACCESS_KEY_ID":
			return access
		case "AWS_SECRET_ACCESS_KEY":
			return secret
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, _, err := archive.Open(ctx, d.Archive, "", getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open the test bucket: %v", err)
	}
	d.Bucket = store
	t.Cleanup(func() {
		for _, n := range d.nodes {
			n.stop(syscall.SIGTERM)
		}
		if t.Failed() {
			for _, n := range d.nodes {
				t.Logf("log of node %s:\n%s", n.Name, tail(n.Log(), 64<<10))
			}
		}
	})
	for i := range o.Nodes {
		n := &Node{Name: fmt.Sprintf("node-%c", 'a'+i), Data: t.TempDir(), d: d, args: o.Args, nats: d.NATS.URLs(),
			host: "127.0.0.1", archive: d.Archive}
		if o.Cuttable {
			n.proxy = startProxy(t, "127.0.0.1", strings.TrimPrefix(d.NATS.URL(i%o.NATSServers), "nats://"))
			n.nats = "nats://" + n.proxy.addr()
		}
		if o.Netns && i == 0 {
			n.inNetns(t)
		}
		d.nodes = append(d.nodes, n)
		n.Start()
		if i == 0 && o.Setup != nil {
			o.Setup(n)
		}
	}
	return d
}

// Node is node i (0-based).
func (d *Deployment) Node(i int) *Node { return d.nodes[i] }

// Nodes are the deployment's nodes in order.
func (d *Deployment) Nodes() []*Node { return d.nodes }

// Node is one salon process. Its ports stay the same across restarts.
// mu guards cmd, exited and out.
type Node struct {
	Name string
	Data string // its -data directory, kept across restarts
	// HTTP, RTMP and RTSP are its listen addresses, 127.0.0.1:PORT (set by
	// the first Start).
	HTTP, RTMP, RTSP string

	d       *Deployment
	args    []string
	nats    string // its -nats
	archive string // its -archive
	host    string // the address it listens on
	proxy   *proxy // with Options.Cuttable
	ns      *netns // with Options.Netns
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	out     *testkit.LogBuffer
	logs    []string // the logs of earlier runs
}

// URL is the node's base URL, http://127.0.0.1:PORT.
func (n *Node) URL() string { return "http://" + n.HTTP }

// RTMPURL is where a publisher sends stage's stream to this node.
func (n *Node) RTMPURL(stage string) string {
	return "rtmp://" + n.RTMP + "/live/" + stage + "?key=" + PublishKey
}

// Start starts the node (again, after Kill: same ports and data) and waits
// until /healthz answers. A port taken by another process meanwhile is
// replaced on the first start.
func (n *Node) Start() {
	t := n.d.t
	t.Helper()
	for attempt := 1; ; attempt++ {
		first := n.HTTP == ""
		if first {
			n.HTTP = n.host + ":" + testkit.FreePort(t)
			n.RTMP = n.host + ":" + testkit.FreePort(t)
			n.RTSP = n.host + ":" + testkit.FreePort(t)
		}
		err := n.start()
		if err == nil {
			return
		}
		n.stop(syscall.SIGKILL)
		if !first || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		n.HTTP = ""
	}
}

func (n *Node) start() error {
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return nil
	}
	args := append([]string{
		"-http", n.HTTP, "-rtmp", n.RTMP, "-rtsp", n.RTSP,
		"-data", n.Data, "-archive", n.archive,
		"-nats", n.nats, "-node", n.Name,
		"-admin-token", AdminToken, "-publish-key", PublishKey,
		// The tests' viewers all come from 127.0.0.1 (or, to a node in a
		// namespace, from the host's end of its veth pair).
		"-chat-shared-nets", "127.0.0.0/8,10.200.0.0/14",
		"-log-level", "debug",
	}, n.args...)
	cmd := exec.Command(n.d.bin, args...)
	if n.ns != nil {
		// ip execs salon inside the namespace: the PID is salon's.
		cmd = exec.Command("ip", append([]string{"netns", "exec", n.ns.name, n.d.bin}, args...)...)
	}
	cmd.Env = append(os.Environ(), n.d.env...)
	out := &testkit.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("start salon node %s: %w", n.Name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.cmd, n.exited, n.out = cmd, exited, out
	n.mu.Unlock()

	return testkit.WaitHealthy("salon node "+n.Name, n.URL()+"/healthz", exited, ready, out)
}

// CutNATS cuts the node off from NATS (Options.Cuttable): its connection
// is closed and new ones are refused until RestoreNATS.
func (n *Node) CutNATS() {
	if n.proxy == nil {
		n.d.t.Fatal("CutNATS needs Options.Cuttable")
	}
	n.proxy.setCut(true)
}

// RestoreNATS ends the cut.
func (n *Node) RestoreNATS() { n.proxy.setCut(false) }

// inNetns moves the node into a network namespace of its own, with
// proxies to NATS and the bucket on the host's end of its veth pair.
func (n *Node) inNetns(t testing.TB) {
	t.Helper()
	ns := newNetns(t)
	n.ns, n.host = ns, ns.nodeIP
	var urls []string
	for i := range n.d.NATS.Len() {
		p := startProxy(t, ns.hostIP, strings.TrimPrefix(n.d.NATS.URL(i), "nats://"))
		urls = append(urls, "nats://"+p.addr())
	}
	n.nats = strings.Join(urls, ",")
	n.archive = "s3:http://" + startProxy(t, ns.hostIP, n.d.minio).addr() + "/salon"
}

// CutNetwork cuts the node (Options.Netns) off from every other: its
// veth pair goes down; nothing is closed, packets are lost.
func (n *Node) CutNetwork() {
	if n.ns == nil {
		n.d.t.Fatal("CutNetwork needs Options.Netns")
	}
	if err := n.ns.setLink(false); err != nil {
		n.d.t.Fatal(err)
	}
}

// RestoreNetwork ends the cut.
func (n *Node) RestoreNetwork() {
	if err := n.ns.setLink(true); err != nil {
		n.d.t.Fatal(err)
	}
}

// Kill ends the node with SIGKILL, as a machine lost would.
func (n *Node) Kill() { n.stop(syscall.SIGKILL) }

// Stop ends the node with SIGTERM (a clean shutdown).
func (n *Node) Stop() { n.stop(syscall.SIGTERM) }

// PID is the running process's id, 0 when it is not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Log is what the node printed, over every run.
func (n *Node) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := strings.Join(n.logs, "")
	if n.out != nil {
		s += n.out.String()
	}
	return s
}

// WaitLog waits until the node's current run logged a line containing s,
// at most limit; it fails the test with the log when it did not.
func (n *Node) WaitLog(s string, limit time.Duration) {
	n.d.t.Helper()
	n.mu.Lock()
	out := n.out
	n.mu.Unlock()
	if out == nil || !out.WaitFor(s, limit) {
		n.d.t.Fatalf("node %s did not log %q within %s:\n%s", n.Name, s, limit, tail(n.Log(), 32<<10))
	}
}

// Logged is closed once the node's current run has logged a line
// containing s; it is watched for at most limit.
func (n *Node) Logged(s string, limit time.Duration) <-chan struct{} {
	n.mu.Lock()
	out := n.out
	n.mu.Unlock()
	c := make(chan struct{})
	if out != nil {
		go func() {
			if out.WaitFor(s, limit) {
				close(c)
			}
		}()
	}
	return c
}

func (n *Node) stop(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
	n.logs = append(n.logs, n.out.String(), fmt.Sprintf("--- node %s ended (%s) ---\n", n.Name, sig))
	n.cmd, n.exited, n.out = nil, nil, nil
}

// tail is the end of s, at most max bytes.
func tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return "…" + s[len(s)-max:]
}

// API calls the node's JSON API as the organiser and returns the status
// and the decoded body (nil when it is not a JSON object).
func (n *Node) API(method, path, body string) (int, map[string]any) {
	t := n.d.t
	t.Helper()
	req, err := http.NewRequest(method, n.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s on node %s: %v", method, path, n.Name, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}
