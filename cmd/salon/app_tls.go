package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/salon/salon/internal/certfile"
	"github.com/salon/salon/web"
)

// certSource is where HTTPS, RTMPS and RTSPS get their certificate: files
// (reloaded when they change) or ACME (autocert, which renews 30 days
// before expiry by itself).
type certSource struct {
	config *tls.Config
	acme   *autocert.Manager // nil with files
}

// newCertSource builds the certificate source of t; nil when TLS is off.
func newCertSource(t TLSConfig, data string, log *slog.Logger) (*certSource, error) {
	switch {
	case t.CertFile != "":
		r := &certfile.Reloader{CertFile: t.CertFile, KeyFile: t.KeyFile, Log: log}
		if err := r.Initialize(); err != nil {
			return nil, fmt.Errorf("-tls-cert: %w", err)
		}
		return &certSource{config: &tls.Config{GetCertificate: r.GetCertificate}}, nil
	case len(t.ACME) > 0:
		dir := filepath.Join(data, "acme")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("-acme: create %s: %w (check -data)", dir, err)
		}
		hc := &http.Client{Timeout: time.Minute}
		if t.ACMECA != "" {
			pem, err := os.ReadFile(t.ACMECA)
			if err != nil {
				return nil, fmt.Errorf("-acme-ca: %w", err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-acme-ca %s: no PEM certificate in the file", t.ACMECA)
			}
			hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, Proxy: http.ProxyFromEnvironment}
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(t.ACME...),
			Cache:      autocert.DirCache(dir),
			Email:      t.ACMEEmail,
			Client:     &acme.Client{DirectoryURL: t.ACMEDirectory, HTTPClient: hc},
		}
		c := m.TLSConfig()
		get := c.GetCertificate
		c.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, err := get(hello)
			if err != nil && slices.Contains(t.ACME, hello.ServerName) && !slices.Contains(hello.SupportedProtos, "acme-tls/1") {
				// One of our domains and no certificate: the CA refused or
				// could not reach us. Other names (scanners, an IP address)
				// are not worth a line.
				log.Error("acme: no certificate; check that the domain points here and that this port is reachable as DOMAIN:443",
					"domain", hello.ServerName, "directory", t.ACMEDirectory, "error", err)
			}
			return cert, err
		}
		log.Info("acme: certificates on first use", "domains", t.ACME, "directory", t.ACMEDirectory, "cache", dir)
		return &certSource{config: c, acme: m}, nil
	}
	return nil, nil
}

// startRedirect starts the -http-redirect port: HTTP-01 challenges when on
// ACME, redirects to the HTTPS port otherwise.
func startRedirect(addr, httpsAddr, publicURL string, cs *certSource, log *slog.Logger) (*web.Redirector, error) {
	_, port, _ := net.SplitHostPort(httpsAddr)
	r := &web.Redirector{Address: addr, HTTPSPort: port, PublicURL: publicURL, Log: log}
	if cs.acme != nil {
		r.Challenge = cs.acme.HTTPHandler
	}
	if err := r.Initialize(); err != nil {
		return nil, err
	}
	return r, nil
}
