package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"
)

// TLSConfig is how the HTTP port serves HTTPS: certificate files, or
// certificates from an ACME CA (Let's Encrypt) for the domains in ACME.
type TLSConfig struct {
	CertFile, KeyFile string // -tls-cert, -tls-key: PEM, reloaded when they change
	// ACME are the domains to get certificates for (-acme a.org,b.org),
	// validated by TLS-ALPN-01 on the HTTPS port (and HTTP-01 on Redirect
	// when it is set); the account and certificates are kept in DATA/acme.
	ACME          []string
	ACMEDirectory string // -acme-directory: the CA; default Let's Encrypt
	ACMEEmail     string // -acme-email: the CA's contact for expiry notices
	// ACMECA is a PEM file of roots to trust for the ACME directory (a
	// private CA such as step-ca, or a test CA); default the system's.
	ACMECA string
	// Redirect is an extra plain-HTTP address (-http-redirect :80) that
	// sends browsers to HTTPS and answers ACME HTTP-01 challenges.
	Redirect string
	// RTMPS and RTSPS are listen addresses for ingest over TLS with the same
	// certificate; empty disables.
	RTMPS, RTSPS string
}

// On reports whether salon serves HTTPS.
func (t TLSConfig) On() bool { return t.CertFile != "" || len(t.ACME) > 0 }

// tlsFlags registers the TLS flags on fs, their defaults taken from the
// environment; the returned func finishes the parsing after fs.Parse.
func tlsFlags(fs *flag.FlagSet, t *TLSConfig, getenv func(string) string) func() {
	acme := strings.Join(t.ACME, ",")
	strs := []struct {
		name, env string
		dst       *string
		usage     string
	}{
		{"tls-cert", "SALON_TLS_CERT", &t.CertFile, "serve HTTPS on -http with this PEM certificate chain (reloaded when the file changes); needs -tls-key"},
		{"tls-key", "SALON_TLS_KEY", &t.KeyFile, "the PEM private key of -tls-cert"},
		{"acme", "SALON_ACME", &acme, "serve HTTPS on -http with certificates from Let's Encrypt for these domains, comma-separated (the port must be reachable as DOMAIN:443)"},
		{"acme-directory", "SALON_ACME_DIRECTORY", &t.ACMEDirectory, "the ACME CA's directory URL (Let's Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory)"},
		{"acme-email", "SALON_ACME_EMAIL", &t.ACMEEmail, "contact address given to the ACME CA (expiry notices)"},
		{"acme-ca", "SALON_ACME_CA", &t.ACMECA, "PEM file of roots to trust for -acme-directory (a private ACME CA); default the system's"},
		{"http-redirect", "SALON_HTTP_REDIRECT", &t.Redirect, "also listen on this address (e.g. :80) for plain HTTP: redirects to HTTPS, answers ACME HTTP-01 challenges"},
		{"rtmps", "SALON_RTMPS", &t.RTMPS, "RTMPS listen address for publishers, with the HTTPS certificate, e.g. :1936; empty disables"},
		{"rtsps", "SALON_RTSPS", &t.RTSPS, "RTSPS listen address for publishers, with the HTTPS certificate, e.g. :8322; empty disables"},
	}
	for _, f := range strs {
		if v, ok := lookup(getenv, f.env); ok {
			*f.dst = v
		}
		fs.StringVar(f.dst, f.name, *f.dst, f.usage+" ($"+f.env+")")
	}
	return func() {
		t.ACME = nil
		for _, d := range strings.Split(acme, ",") {
			if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
				t.ACME = append(t.ACME, d)
			}
		}
	}
}

// validate checks the TLS settings and names the flag at fault.
func (t TLSConfig) validate() error {
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		return errors.New("-tls-cert and -tls-key: give both, the certificate chain and its key")
	case t.CertFile != "" && len(t.ACME) > 0:
		return errors.New("-acme: choose certificate files (-tls-cert) or ACME, not both")
	}
	if t.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			return fmt.Errorf("-tls-cert %s / -tls-key %s: %w (both PEM; the certificate file holds the chain, leaf first)", t.CertFile, t.KeyFile, err)
		}
	}
	for _, d := range t.ACME {
		// autocert refuses names without a dot, and IP addresses cannot be
		// validated by HTTP-01 or TLS-ALPN-01 for a public certificate.
		if !strings.Contains(d, ".") || net.ParseIP(d) != nil || strings.ContainsAny(d, "/:*@ ") {
			return fmt.Errorf("-acme %q: want domain names like live.example.org, comma-separated", d)
		}
	}
	if len(t.ACME) > 0 {
		if u, err := url.Parse(t.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("-acme-directory %q: want the CA's https:// directory URL", t.ACMEDirectory)
		}
		if t.ACMEEmail != "" {
			if _, err := mail.ParseAddress(t.ACMEEmail); err != nil {
				return fmt.Errorf("-acme-email %q: want an address like orga@example.org", t.ACMEEmail)
			}
		}
		if t.ACMECA != "" {
			if _, err := os.ReadFile(t.ACMECA); err != nil {
				return fmt.Errorf("-acme-ca: %w", err)
			}
		}
	}
	for _, a := range []struct{ flag, v string }{{"-http-redirect", t.Redirect}, {"-rtmps", t.RTMPS}, {"-rtsps", t.RTSPS}} {
		if a.v == "" {
			continue
		}
		if !t.On() {
			return fmt.Errorf("%s needs a certificate: -tls-cert and -tls-key, or -acme", a.flag)
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%s %q: want HOST:PORT or :PORT", a.flag, a.v)
		}
	}
	return nil
}
