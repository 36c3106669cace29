package certfile

import (
	"crypto/tls"
	"os"
	"testing"
	"time"

	"github.com/salon/salon/web/webtest"
)

func served(t *testing.T, r *Reloader) []byte {
	t.Helper()
	r.mu.Lock()
	r.checked = time.Time{} // the next handshake looks at the files
	r.mu.Unlock()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Certificate[0]
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// A distinct modification time even on coarse file systems.
	later := time.Now().Add(time.Duration(len(b)) * time.Millisecond)
	_ = os.Chtimes(to, later, later)
}

func TestReloader_GetCertificate(t *testing.T) {
	dir := t.TempDir()
	first := webtest.SelfSigned(t, dir, "127.0.0.1")
	second := webtest.SelfSigned(t, t.TempDir(), "127.0.0.1")
	r := &Reloader{CertFile: first.CertFile, KeyFile: first.KeyFile}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	a := served(t, r)
	if string(served(t, r)) != string(a) {
		t.Fatal("unchanged files gave another certificate")
	}
	// Half a renewal: the new certificate with the old key does not load;
	// the old certificate stays.
	copyFile(t, second.CertFile, first.CertFile)
	if string(served(t, r)) != string(a) {
		t.Fatal("a certificate that does not match its key replaced the served one")
	}
	// The key follows: the new pair is served.
	copyFile(t, second.KeyFile, first.KeyFile)
	b := served(t, r)
	want, _ := tls.LoadX509KeyPair(second.CertFile, second.KeyFile)
	if string(b) != string(want.Certificate[0]) {
		t.Fatal("the renewed certificate is not served")
	}
	if err := (&Reloader{CertFile: dir + "/none.pem", KeyFile: first.KeyFile}).Initialize(); err == nil {
		t.Fatal("a missing file loaded")
	}
}
