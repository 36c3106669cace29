package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
	"github.com/salon/salon/internal/testkit"
)

const (
	publishKey = "deploy-test-key"
	adminToken = "deploy-test-admin"
)

// buildDir holds the salon binary of this test run; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "salon-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildSalon builds cmd/salon once per test binary.
var buildSalon = sync.OnceValues(func() (string, error) {
	dir := buildDir
	if m, _ := filepath.Glob("../web/static/vendor/hls.js-*/hls.min.js"); len(m) == 0 {
		return "", fmt.Errorf("hls.js is not vendored, so salon's live page cannot play: run go generate ./web first")
	}
	bin := filepath.Join(dir, "salon")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/salon").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ../cmd/salon: %v\n%s", err, out)
	}
	return bin, nil
})

// node is one salon process of the deployment.
type node struct {
	name string
	http string // 127.0.0.1:PORT
	rtmp string // 127.0.0.1:PORT, "" when it takes no publishers
	cmd  *exec.Cmd
	log  testkit.LogBuffer
	done chan struct{}
}

func (n *node) url(path string) string { return "http://" + n.http + path }

// startNodes starts n salons on servers' NATS cluster, sharing one archive
// directory; the first one takes RTMP publishers. Low-Latency HLS with 1 s
// segments and 200 ms parts. The nodes and nginx are all on 127.0.0.1, so
// every viewer and node shares one address (-chat-shared-nets).
func startNodes(t testing.TB, servers *natstest.Nodes, n int, extra ...string) []*node {
	t.Helper()
	bin, err := buildSalon()
	if err != nil {
		t.Fatal(err)
	}
	archive := t.TempDir()
	nodes := make([]*node, n)
	// The first node creates the chat stream and the lease bucket; the
	// others then start together.
	nodes[0] = startNode(t, bin, servers, archive, "node-a", true, extra)
	var wg sync.WaitGroup
	for i := 1; i < n && nodes[0] != nil; i++ {
		name := fmt.Sprintf("node-%c", 'a'+i)
		wg.Go(func() { nodes[i] = startNode(t, bin, servers, archive, name, false, extra) })
	}
	wg.Wait()
	for _, nd := range nodes {
		if nd == nil {
			t.FailNow()
		}
	}
	return nodes
}

func startNode(t testing.TB, bin string, servers *natstest.Nodes, archive, name string, ingest bool, extra []string) *node {
	data := t.TempDir()
	for attempt := 1; ; attempt++ {
		nd := &node{name: name, http: "127.0.0.1:" + testkit.FreePort(t), done: make(chan struct{})}
		rtmp := ""
		if ingest {
			nd.rtmp = "127.0.0.1:" + testkit.FreePort(t)
			rtmp = nd.rtmp
		}
		args := append([]string{
			"-http", nd.http, "-rtsp", "", "-rtmp", rtmp,
			"-data", data, "-archive", archive,
			"-nats", servers.URLs(), "-node", name,
			"-publish-key", publishKey, "-admin-token", adminToken,
			"-segment", "1s", "-part", "200ms",
			"-chat-shared-nets", "127.0.0.0/8",
		}, extra...)
		nd.cmd = exec.Command(bin, args...)
		nd.cmd.Stdout = &nd.log
		nd.cmd.Stderr = &nd.log
		if err := nd.cmd.Start(); err != nil {
			t.Error(err)
			return nil
		}
		go func() { nd.cmd.Wait(); close(nd.done) }()
		err := waitHealthy(nd)
		if err == nil {
			t.Cleanup(func() {
				nd.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-nd.done:
				case <-time.After(20 * time.Second):
					nd.cmd.Process.Kill()
					<-nd.done
				}
				if t.Failed() {
					t.Logf("%s's log:\n%s", name, nd.log.String())
				}
			})
			return nd
		}
		nd.cmd.Process.Kill()
		<-nd.done
		if attempt == 3 || !strings.Contains(nd.log.String(), "address already in use") {
			t.Errorf("salon %s did not start: %v\n%s", name, err, nd.log.String())
			return nil
		}
	}
}

// waitHealthy waits for /healthz, or for the process to exit.
func waitHealthy(nd *node) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-nd.done:
			return fmt.Errorf("exited: %v", nd.cmd.ProcessState)
		default:
		}
		if resp, err := http.Get(nd.url("/healthz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no /healthz in 60 s")
}

// proxy is the shipped nginx configuration running in front of nodes.
type proxy struct {
	addr      string // 127.0.0.1:PORT
	pid       int    // the master's
	accessLog string
	log       testkit.LogBuffer
}

func (p *proxy) url(path string) string { return "http://" + p.addr + path }

var upstreamServers = regexp.MustCompile(`(?m)^(\s*)server 10\.0\.0\.\d+:8080( [^;]*)?;\n`)

// startNginx runs nginx (as a child, not a daemon, with its own prefix,
// temp and cache directories) with deploy/nginx/salon.conf, the upstream of
// salon-upstream.conf listing nodes, on a loopback port. Each request is
// logged as "URI STATUS CACHE-STATUS UPSTREAM-ADDRESSES" for the counts.
func startNginx(t testing.TB, nodes []*node) *proxy {
	t.Helper()
	bin := testkit.NeedTool(t, "nginx")
	site, err := os.ReadFile("nginx/salon.conf")
	if err != nil {
		t.Fatal(err)
	}
	up, err := os.ReadFile("nginx/salon-upstream.conf")
	if err != nil {
		t.Fatal(err)
	}
	prefix := t.TempDir()
	// Workers run as the user nginx starts as; as root they would switch
	// to nobody, who cannot enter the test's private directories.
	userLine := ""
	if os.Geteuid() == 0 {
		userLine = "user root;"
	}
	var servers strings.Builder
	for _, nd := range nodes {
		fmt.Fprintf(&servers, "    server %s max_fails=3 fail_timeout=5s;\n", nd.http)
	}
	if len(upstreamServers.FindAll(up, -1)) == 0 {
		t.Fatal("nginx/salon-upstream.conf: no server 10.0.0.N:8080 lines to replace")
	}
	first := true
	upstream := upstreamServers.ReplaceAllStringFunc(string(up), func(string) string {
		if first {
			first = false
			return servers.String()
		}
		return ""
	})
	for attempt := 1; ; attempt++ {
		p := &proxy{addr: "127.0.0.1:" + testkit.FreePort(t), accessLog: filepath.Join(prefix, fmt.Sprintf("access-%d.log", attempt))}
		conf := string(site)
		for _, r := range [][2]string{{"listen 80;", "listen " + p.addr + ";"}, {"/var/cache/nginx/salon", filepath.Join(prefix, "cache")}} {
			if strings.Count(conf, r[0]) != 1 {
				t.Fatalf("nginx/salon.conf: %q is not there exactly once", r[0])
			}
			conf = strings.Replace(conf, r[0], r[1], 1)
		}
		for _, f := range []struct{ name, body string }{
			{"salon.conf", conf},
			{"salon-upstream.conf", upstream},
			{"nginx.conf", fmt.Sprintf(`%s
daemon off;
worker_processes 2;
worker_rlimit_nofile 20000;
pid %[2]s/nginx.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
    log_format counted '$request_uri $status $upstream_cache_status "$upstream_addr"';
    access_log %[3]s counted;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    default_type application/octet-stream;
    include %[2]s/salon-upstream.conf;
    include %[2]s/salon.conf;
}
`, userLine, prefix, p.accessLog)},
		} {
			if err := os.WriteFile(filepath.Join(prefix, f.name), []byte(f.body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args := []string{"-p", prefix, "-c", filepath.Join(prefix, "nginx.conf"), "-e", "stderr"}
		if out, err := exec.Command(bin, append(args, "-t")...).CombinedOutput(); err != nil {
			t.Fatalf("nginx -t refuses the configuration: %v\n%s", err, out)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &p.log, &p.log
		// The master stops its workers on SIGQUIT (graceful) or SIGTERM.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 10 * time.Second
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		p.pid = cmd.Process.Pid
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		up := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !up; {
			select {
			case <-done:
				deadline = time.Time{}
				continue
			default:
			}
			if resp, err := http.Get(p.url("/healthz")); err == nil {
				resp.Body.Close()
				up = resp.StatusCode == 200
			}
			if !up {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if up {
			t.Cleanup(func() {
				cancel()
				<-done
				if t.Failed() {
					t.Logf("nginx's log:\n%s", p.log.String())
				}
			})
			return p
		}
		cancel()
		<-done
		if attempt == 3 || !strings.Contains(p.log.String(), "Address already in use") {
			t.Fatalf("nginx did not start:\n%s", p.log.String())
		}
	}
}

// originCounts reads nginx's access log: for each URI, how many requests
// nginx sent to a node for it (retries on another node included).
func (p *proxy) originCounts(t testing.TB) map[string]int {
	t.Helper()
	b, err := os.ReadFile(p.accessLog)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 4 {
			continue
		}
		addrs := strings.Trim(f[3], `"`)
		if addrs == "-" || addrs == "" {
			continue
		}
		out[f[0]] += len(strings.Split(addrs, ","))
	}
	return out
}

// httpGet fetches u; status 0 when the request failed.
func httpGet(u string) (int, []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// logLinesOfRepeats is the access log's lines for the segments, parts and
// init segments that reached the nodes more than once (at most 50 lines).
func (p *proxy) logLinesOfRepeats(t testing.TB, counts map[string]int) string {
	t.Helper()
	b, err := os.ReadFile(p.accessLog)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		uri, _, _ := strings.Cut(line, " ")
		if counts[uri] > 1 && liveFile.MatchString(uri) && len(out) < 50 {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
