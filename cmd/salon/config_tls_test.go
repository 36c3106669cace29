package main

import (
	"strings"
	"testing"

	"github.com/salon/salon/web/webtest"
)

func TestTLSConfig_validate(t *testing.T) {
	cert := webtest.SelfSigned(t, t.TempDir(), "127.0.0.1")
	other := webtest.SelfSigned(t, t.TempDir(), "127.0.0.1")
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c TLSConfig)
		wantErr string
	}{
		{name: "off by default", check: func(t *testing.T, c TLSConfig) {
			if c.On() || c.ACMEDirectory != "https://acme-v02.api.letsencrypt.org/directory" {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "files from env", env: map[string]string{"SALON_TLS_CERT": cert.CertFile, "SALON_TLS_KEY": cert.KeyFile, "SALON_RTMPS": ":1936"},
			check: func(t *testing.T, c TLSConfig) {
				if !c.On() || c.CertFile != cert.CertFile || c.RTMPS != ":1936" {
					t.Fatalf("%+v", c)
				}
			}},
		{name: "acme domains", args: []string{"-acme", " Live.Example.org, www.example.org ,", "-acme-email", "orga@example.org"}, env: map[string]string{"SALON_ACME": "ignored.example.org"},
			check: func(t *testing.T, c TLSConfig) {
				if strings.Join(c.ACME, " ") != "live.example.org www.example.org" || c.ACMEEmail != "orga@example.org" {
					t.Fatalf("%+v", c)
				}
			}},
		{name: "cert without key", args: []string{"-tls-cert", cert.CertFile}, wantErr: "-tls-cert and -tls-key"},
		{name: "key of another cert", args: []string{"-tls-cert", cert.CertFile, "-tls-key", other.KeyFile}, wantErr: "-tls-cert"},
		{name: "missing file", args: []string{"-tls-cert", "/nonexistent.pem", "-tls-key", cert.KeyFile}, wantErr: "-tls-cert /nonexistent.pem"},
		{name: "files and acme", args: []string{"-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile, "-acme", "a.example.org"}, wantErr: "-acme: choose"},
		{name: "acme without a dot", args: []string{"-acme", "localhost"}, wantErr: `-acme "localhost"`},
		{name: "acme ip", args: []string{"-acme", "192.0.2.1"}, wantErr: "-acme"},
		{name: "acme plain directory", args: []string{"-acme", "a.example.org", "-acme-directory", "http://ca/dir"}, wantErr: "-acme-directory"},
		{name: "acme bad email", args: []string{"-acme", "a.example.org", "-acme-email", "nobody"}, wantErr: "-acme-email"},
		{name: "acme ca missing", args: []string{"-acme", "a.example.org", "-acme-ca", "/nonexistent.pem"}, wantErr: "-acme-ca"},
		{name: "redirect without tls", args: []string{"-http-redirect", ":80"}, wantErr: "-http-redirect needs a certificate"},
		{name: "rtsps without tls", args: []string{"-rtsps", ":8322"}, wantErr: "-rtsps needs a certificate"},
		{name: "rtmps bad address", args: []string{"-acme", "a.example.org", "-rtmps", "1936"}, wantErr: `-rtmps "1936"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.args, envOf(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c.TLS)
		})
	}
}
