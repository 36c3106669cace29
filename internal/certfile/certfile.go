// Package certfile serves a TLS certificate from PEM files and reloads it
// when the files change, so a renewal (certbot, a cron job, an ops team's
// copy) takes effect without a restart.
package certfile

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// checkEvery bounds how often a handshake looks at the files: two stats at
// most once a second.
const checkEvery = time.Second

// Reloader holds the certificate of CertFile and KeyFile.
//
// mu guards cert, stamp and checked.
type Reloader struct {
	// CertFile is the PEM certificate chain, leaf first; KeyFile its key.
	CertFile, KeyFile string
	// Log receives reloads and failed reloads. Default: discard.
	Log *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' sizes and modification times when loaded
	checked time.Time
}

// Initialize loads the files; an error names the file to fix.
func (r *Reloader) Initialize() error {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	stamp, err := r.stampNow()
	if err != nil {
		return err
	}
	cert, err := r.load()
	if err != nil {
		return err
	}
	r.cert, r.stamp, r.checked = cert, stamp, time.Now()
	return nil
}

func (r *Reloader) load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(r.CertFile, r.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load the certificate %s with the key %s: %w (both PEM; the certificate file holds the chain, leaf first)", r.CertFile, r.KeyFile, err)
	}
	return &c, nil
}

func (r *Reloader) stampNow() (string, error) {
	s := ""
	for _, f := range []string{r.CertFile, r.KeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("read the certificate: %w", err)
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

// GetCertificate is tls.Config's: the current certificate, reloaded first
// when the files changed. A reload that fails (a renewal caught half
// written, a key that does not match yet) keeps the previous certificate,
// logs once per change and is tried again at the next check.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= checkEvery {
		r.checked = now
		stamp, err := r.stampNow()
		if err == nil && stamp != r.stamp {
			cert, err := r.load()
			if err != nil {
				r.Log.Error("tls certificate changed but does not load: still serving the previous one", "error", err)
			} else {
				r.cert = cert
				r.Log.Info("tls certificate reloaded", "file", r.CertFile, "expires", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
			}
			r.stamp = stamp // one line per change; the next change tries again
		}
	}
	return r.cert, nil
}
