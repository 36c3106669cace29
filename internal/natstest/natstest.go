// Package natstest starts real nats-server processes for tests: one node or
// a cluster with routes and JetStream, on loopback ports, each with its own
// temp store, stopped when the test ends. Tests that need NATS skip when the
// server is not installed; .ci/run installs it.
//
//	c := natstest.Cluster(t, 3)
//	nc, err := nats.Connect(c.URL(0))
//	c.Kill(1)    // SIGKILL: a node lost
//	c.Start(1)   // back, same ports and store
package natstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/salon/salon/internal/testkit"
)

// Module is what .ci/run installs; the skip message names it.
const Module = "github.com/nats-io/nats-server/v2@v2.15.2"

// ready bounds how long one node may take to be healthy (a cluster node is
// healthy once JetStream knows its meta leader).
const ready = 30 * time.Second

// Binary returns the nats-server binary to test with: $SALON_NATS_SERVER,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/salon/bin/nats-server (where .ci/run
// installs it), else nats-server on PATH; "" when there is none.
func Binary() string { return testkit.ServiceBinary("SALON_NATS_SERVER", "nats-server") }

// Nodes is a running set of nats-server processes. Its methods may be
// called from several goroutines.
type Nodes struct {
	t     testing.TB
	bin   string
	opts  options
	nodes []*node
}

// An Option changes how the servers run.
type Option func(*options)

type options struct{ noAdvertise bool }

// NoAdvertise keeps the servers from telling clients the cluster's other
// servers: a client knows only the URLs it was given, so a test can cut
// one client off (through a proxy) while the others still reach it.
func NoAdvertise() Option { return func(o *options) { o.noAdvertise = true } }

// node is one nats-server and how to start it again. mu guards cmd and
// exited.
type node struct {
	name                   string
	store                  string
	client, cluster, httpP string
	routes                 []string // the other nodes' cluster URLs
	mu                     sync.Mutex
	cmd                    *exec.Cmd
	exited                 chan struct{}
	out                    *testkit.LogBuffer
}

// Cluster starts n nodes with JetStream; with n > 1 they form one cluster
// ("salon-test") with routes to each other. It waits until every node is
// healthy and stops them on t.Cleanup. The test is skipped when nats-server
// is not installed.
func Cluster(t testing.TB, n int, opts ...Option) *Nodes {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("nats-server not installed: .ci/run installs it with go install " + Module +
			" (or set SALON_NATS_SERVER to a nats-server binary)")
	}
	c := &Nodes{t: t, bin: bin}
	for _, o := range opts {
		o(&c.opts)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.stop(syscall.SIGTERM)
		}
	})
	// A port FreePort found free may be taken by another process before
	// the server binds it (go test runs packages in parallel): then the
	// whole cluster starts again on new ports.
	for attempt := 1; ; attempt++ {
		err := c.startAll(n)
		if err == nil {
			break
		}
		for _, nd := range c.nodes {
			nd.stop(syscall.SIGKILL)
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("nats-server: %d-node cluster did not start (a port was taken meanwhile); again on new ports", n)
	}
	return c
}

// startAll picks ports for n nodes, starts them and waits until each is
// healthy.
func (c *Nodes) startAll(n int) error {
	t := c.t
	c.nodes = nil
	for i := range n {
		c.nodes = append(c.nodes, &node{
			name:    "n" + strconv.Itoa(i+1),
			store:   t.TempDir(),
			client:  testkit.FreePort(t),
			cluster: testkit.FreePort(t),
			httpP:   testkit.FreePort(t),
		})
	}
	if n > 1 {
		for _, nd := range c.nodes {
			for _, other := range c.nodes {
				if other != nd {
					nd.routes = append(nd.routes, "nats://127.0.0.1:"+other.cluster)
				}
			}
		}
	}
	// A cluster node is healthy only once a JetStream meta leader is
	// elected, which needs a majority: start them all, then wait.
	for _, nd := range c.nodes {
		if err := nd.start(c.bin, c.opts); err != nil {
			return err
		}
	}
	for _, nd := range c.nodes {
		if err := nd.waitHealthy(); err != nil {
			return err
		}
	}
	if n > 1 {
		return c.waitFormed()
	}
	return nil
}

// waitFormed waits until the JetStream meta leader sees every other server
// as a current peer. A healthy server needs only a majority, and a stream
// created before the last server joined gets fewer replicas than asked
// (seen on a loaded machine: 2 of 3).
func (c *Nodes) waitFormed() error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var last string
	for deadline := time.Now().Add(ready); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, nd := range c.nodes {
			var jsz struct {
				Meta struct {
					Leader   string `json:"leader"`
					Replicas []struct {
						Name    string `json:"name"`
						Current bool   `json:"current"`
					} `json:"replicas"`
				} `json:"meta_cluster"`
			}
			resp, err := client.Get("http://127.0.0.1:" + nd.httpP + "/jsz")
			if err != nil {
				last = err.Error()
				continue
			}
			err = json.NewDecoder(resp.Body).Decode(&jsz)
			resp.Body.Close()
			if err != nil || jsz.Meta.Leader != nd.name {
				continue
			}
			current := 0
			for _, r := range jsz.Meta.Replicas {
				if r.Current {
					current++
				}
			}
			if current == len(c.nodes)-1 {
				return nil
			}
			last = fmt.Sprintf("meta leader %s sees %d of %d peers current", nd.name, current, len(c.nodes)-1)
		}
	}
	return fmt.Errorf("the NATS cluster of %d servers did not form within %v: %s", len(c.nodes), ready, last)
}

// Len is the number of servers.
func (c *Nodes) Len() int { return len(c.nodes) }

// URL is node i's client URL, nats://127.0.0.1:PORT.
func (c *Nodes) URL(i int) string { return "nats://127.0.0.1:" + c.nodes[i].client }

// URLs are every node's client URL, comma-separated, as nats.Connect and
// salon's -nats take them.
func (c *Nodes) URLs() string {
	var urls []string
	for i := range c.nodes {
		urls = append(urls, c.URL(i))
	}
	return strings.Join(urls, ",")
}

// Kill ends node i with SIGKILL, as a machine lost would.
func (c *Nodes) Kill(i int) { c.nodes[i].stop(syscall.SIGKILL) }

// Start starts node i again on its ports and store and waits until it is
// healthy (caught up with the cluster).
func (c *Nodes) Start(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if err := nd.start(c.bin, c.opts); err != nil {
		c.t.Fatal(err)
	}
	if err := nd.waitHealthy(); err != nil {
		c.t.Fatal(err)
	}
}

// Log is what node i printed (its log, for a failing test's message).
func (c *Nodes) Log(i int) string {
	nd := c.nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.out == nil {
		return ""
	}
	return nd.out.String()
}

func (nd *node) start(bin string, o options) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		return nil
	}
	args := []string{
		"--name", nd.name,
		"--addr", "127.0.0.1", "--port", nd.client,
		"--http_port", nd.httpP,
		"--jetstream", "--store_dir", nd.store,
	}
	if len(nd.routes) > 0 {
		args = append(args, "--cluster_name", "salon-test",
			"--cluster", "nats://127.0.0.1:"+nd.cluster,
			"--routes", strings.Join(nd.routes, ","))
	}
	if o.noAdvertise {
		args = append(args, "--no_advertise")
	}
	cmd := exec.Command(bin, args...)
	out := &testkit.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	nd.cmd, nd.exited, nd.out = cmd, exited, out
	return nil
}

// waitHealthy polls the node's /healthz, which answers 200 once its
// JetStream is current with the cluster.
func (nd *node) waitHealthy() error {
	nd.mu.Lock()
	exited, out := nd.exited, nd.out
	nd.mu.Unlock()
	url := "http://127.0.0.1:" + nd.httpP + "/healthz"
	return testkit.WaitHealthy("nats-server "+nd.name, url, exited, ready, out)
}

// stop ends the node with sig; after SIGTERM, SIGKILL if it has not exited
// within 10 s.
func (nd *node) stop(sig syscall.Signal) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Signal(sig)
	select {
	case <-nd.exited:
	case <-time.After(10 * time.Second):
		nd.cmd.Process.Kill()
		<-nd.exited
	}
	nd.cmd, nd.exited = nil, nil
}
