package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/salon/salon/web/webtest"
)

// pebbleBins finds pebble and pebble-challtestsrv through SALON_PEBBLE
// (.ci/run installs both into ~/.cache/salon/bin), or skips.
func pebbleBins(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	pebble = os.Getenv("SALON_PEBBLE")
	if pebble == "" {
		t.Skip("SALON_PEBBLE is not set: skipping the ACME test (.ci/run installs pebble into ~/.cache/salon/bin and sets it)")
	}
	challtestsrv = filepath.Join(filepath.Dir(pebble), "pebble-challtestsrv")
	for _, b := range []string{pebble, challtestsrv} {
		if _, err := os.Stat(b); err != nil {
			t.Skipf("%s is missing (SALON_PEBBLE=%s): install with GOBIN=$(dirname $SALON_PEBBLE) go install github.com/letsencrypt/pebble/v2/cmd/...@v2.10.3", b, pebble)
		}
	}
	return pebble, challtestsrv
}

// freeAddr is a loopback address with a port nobody listens on now (for
// tools that cannot report the port they bound).
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitListening waits until something accepts on addr.
func waitListening(t *testing.T, addr string, p *publisher) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s; %s said:\n%s", addr, p.cmd.Path, p.stderr.String())
		}
	}
}

// TestSalon_ACME gets a certificate for salon.test from pebble, a local
// ACME CA, with real TLS-ALPN-01 validation: pebble resolves salon.test
// through pebble-challtestsrv's DNS to 127.0.0.1 and connects to salon's
// HTTPS port (its HTTP-01 port is dead, so no other way succeeds). The certificate chains to pebble's root, is cached in
// DATA/acme, and -http-redirect sends plain HTTP to HTTPS.
func TestSalon_ACME(t *testing.T) {
	pebbleBin, challBin := pebbleBins(t)
	dir := t.TempDir()
	pebbleCert := webtest.SelfSigned(t, dir, "127.0.0.1")
	pebbleAddr, pebbleMgmt := freeAddr(t, "tcp"), freeAddr(t, "tcp")
	dnsAddr, challMgmt := freeAddr(t, "udp"), freeAddr(t, "tcp")

	const domain = "salon.test"
	a := testApp(t, func(c *Config) {
		c.TLS.ACME = []string{domain}
		c.TLS.ACMEDirectory = "https://" + pebbleAddr + "/dir"
		c.TLS.ACMECA = pebbleCert.CertFile
		c.TLS.ACMEEmail = "orga@example.org"
		c.TLS.Redirect = "127.0.0.1:0"
	})
	_, httpsPort, _ := net.SplitHostPort(a.web.Addr())
	// HTTP-01 would go to a port nobody listens on: the certificate can
	// only come through TLS-ALPN-01 on salon's HTTPS port.
	_, deadPort, _ := net.SplitHostPort(freeAddr(t, "tcp"))

	chall := startProc(t, challBin, "-dnsserver", dnsAddr, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-management", challMgmt)
	waitListening(t, challMgmt, chall)
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": pebbleAddr, "managementListenAddress": pebbleMgmt,
		"certificate": pebbleCert.CertFile, "privateKey": pebbleCert.KeyFile,
		"httpPort": json.Number(deadPort), "tlsPort": json.Number(httpsPort),
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
	}})
	confFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confFile, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	pebble := &publisher{cmd: exec.Command(pebbleBin, "-config", confFile, "-dnsserver", dnsAddr), stderr: &syncBuffer{}, done: make(chan struct{})}
	pebble.cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	pebble.cmd.Stdout, pebble.cmd.Stderr = pebble.stderr, pebble.stderr
	if err := pebble.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { pebble.err = pebble.cmd.Wait(); close(pebble.done) }()
	t.Cleanup(pebble.kill)
	waitListening(t, pebbleAddr, pebble)

	// Pebble makes a new root at every start: trust only that one.
	mgmt := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pebbleCert.Pool}}}
	resp, err := mgmt.Get("https://" + pebbleMgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble's root: %v", err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("pebble's root is not PEM: %q", rootPEM)
	}
	rootFile := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(rootFile, rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	// The first handshake for salon.test waits for the order: account,
	// TLS-ALPN-01 validation of salon's own port, issuance.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, a.web.Addr())
		},
	}}
	url := fmt.Sprintf("https://%s:%s/healthz", domain, httpsPort)
	resp, err = client.Get(url)
	if err != nil {
		t.Fatalf("GET %s with a certificate from pebble: %v\npebble:\n%s", url, err, pebble.stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("GET %s: %s %d, HSTS %q", url, resp.Proto, resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if _, err := os.Stat(filepath.Join(a.cfg.Data, "acme", domain)); err != nil {
		t.Errorf("the certificate is not cached in DATA/acme: %v", err)
	}
	// curl agrees, trusting pebble's root only.
	if _, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command("curl", "-sS", "--cacert", rootFile, "--resolve", domain+":"+httpsPort+":127.0.0.1",
			"-o", "/dev/null", "-w", "%{http_code}", url).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl with pebble's root: %v %s", err, out)
		}
	}

	// The redirect port sends browsers to HTTPS on the same host.
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+a.redirect.Addr()+"/live/main?x=1", nil)
	req.Host = domain
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://" + domain + ":" + httpsPort + "/live/main?x=1"; resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
		t.Fatalf("redirect port: %d Location %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}
