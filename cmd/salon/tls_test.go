package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salon/salon/web/webtest"
)

// httpsGet fetches url trusting pool and returns status, body and protocol.
func httpsGet(t *testing.T, cert webtest.Cert, url string) (int, string, string) {
	t.Helper()
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Proto
}

// waitSegmentsTLS polls a stage's playlist over HTTPS until it lists n
// segments.
func waitSegmentsTLS(t *testing.T, a *app, cert webtest.Cert, stage string, n int, pub *publisher) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		code, body, _ := httpsGet(t, cert, "https://"+a.web.Addr()+"/live/"+stage+"/index.m3u8")
		last = body
		if code == 200 && strings.Count(body, "#EXTINF") >= n {
			return
		}
	}
	t.Fatalf("stage %s: fewer than %d segments over HTTPS; last playlist:\n%s\nffmpeg:\n%s", stage, n, last, pub.stderr.String())
}

// servedSPKI is the public key hash of the certificate salon serves now.
func servedSPKI(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestSalon_HTTPSFiles serves salon over HTTPS with a self-signed
// certificate from files: ffmpeg publishes over RTMPS and RTSPS with the
// same certificate, curl (--cacert) reads the playlist over HTTP/2 with
// HSTS, Chromium plays the live page, and a new certificate written over
// the files is served without a restart.
func TestSalon_HTTPSFiles(t *testing.T) {
	needTools(t, "ffmpeg", "curl")
	dir := t.TempDir()
	cert := webtest.SelfSigned(t, dir, "127.0.0.1")
	a := testApp(t, func(c *Config) {
		c.TLS.CertFile, c.TLS.KeyFile = cert.CertFile, cert.KeyFile
		c.TLS.RTMPS, c.TLS.RTSPS = "127.0.0.1:0", "127.0.0.1:0"
	})
	rtmps := startProc(t, "ffmpeg", ffmpegArgs("120", srcVideo, srcAudio, encH264, encAAC,
		rtmpOut(fmt.Sprintf("rtmps://%s/live/main?key=%s", a.rtmps.Addr(), testKey)))...)
	rtsps := startProc(t, "ffmpeg", ffmpegArgs("120", srcVideo, encH264,
		rtspOut(fmt.Sprintf("rtsps://%s/live/side?key=%s", a.rtsps.Addr(), testKey)))...)
	waitSegmentsTLS(t, a, cert, "main", 2, rtmps)
	waitSegmentsTLS(t, a, cert, "side", 2, rtsps)

	out, err := exec.Command("curl", "-sS", "--cacert", cert.CertFile, "-D", "-", "-o", "/dev/null",
		"-w", "proto=%{http_version}", "https://"+a.web.Addr()+"/live/main/index.m3u8").CombinedOutput()
	if err != nil {
		t.Fatalf("curl --cacert: %v\n%s", err, out)
	}
	if s := string(out); !strings.HasPrefix(s, "HTTP/2 200") || !strings.Contains(strings.ToLower(s), "strict-transport-security: max-age=31536000") || !strings.HasSuffix(s, "proto=2") {
		t.Fatalf("curl over HTTPS:\n%s", s)
	}
	// Without the certificate curl must refuse: the check above is real.
	if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "https://"+a.web.Addr()+"/healthz").CombinedOutput(); err == nil {
		t.Fatalf("curl trusted a self-signed certificate without --cacert: %s", out)
	}

	t.Run("chromium", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(webtest.Browser(t, webtest.TrustSPKI(cert.SPKI)), 90*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate("https://"+a.web.Addr()+"/live/main")); err != nil {
			t.Fatalf("open the live page over HTTPS: %v", err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('video').currentTime > 1`, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			t.Fatalf("waiting for playback over HTTPS: %v", err)
		}
		proto, err := chromedp.Run(ctx, chromedp.Evaluate[string](`performance.getEntriesByType('navigation')[0].nextHopProtocol`))
		if err != nil || proto != "h2" {
			t.Fatalf("the page came over %q (%v), want h2", proto, err)
		}
		// The chat's websocket upgrades over TLS (an HTTP/1.1 connection of
		// its own) and gets the room's first frame.
		ws, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise(resolve => {
			const w = new WebSocket('wss://' + location.host + '/ws/chat/main');
			w.onmessage = e => { resolve('frame ' + e.data.slice(0, 20)); w.close(); };
			w.onerror = () => resolve('error');
			setTimeout(() => resolve('timeout'), 15000);
		})`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.HasPrefix(ws, "frame {") {
			t.Fatalf("chat over wss: %q %v", ws, err)
		}
	})

	t.Run("reload", func(t *testing.T) {
		next := webtest.SelfSigned(t, t.TempDir(), "127.0.0.1")
		for _, f := range [][2]string{{next.KeyFile, cert.KeyFile}, {next.CertFile, cert.CertFile}} {
			b, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f[1]+".tmp", b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(f[1]+".tmp", f[1]); err != nil {
				t.Fatal(err)
			}
		}
		for deadline := time.Now().Add(10 * time.Second); servedSPKI(t, a.web.Addr()) != next.SPKI; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the new certificate is not served 10 s after the files changed")
			}
		}
		if code, _, proto := httpsGet(t, next, "https://"+a.web.Addr()+"/healthz"); code != 200 || proto != "HTTP/2.0" {
			t.Fatalf("with the new certificate: %d %s", code, proto)
		}
	})
}
