package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Redirector is the plain-HTTP port beside HTTPS (-http-redirect :80): a
// browser given a bare domain lands here and is sent to HTTPS; Challenge,
// when set, answers ACME HTTP-01 challenges first.
type Redirector struct {
	// Address to listen on, e.g. ":80". Required.
	Address string
	// HTTPSPort is the port redirects go to; 443 is left out of the URL.
	HTTPSPort string
	// PublicURL, when it is an https:// URL, is where redirects go instead
	// of the request's host.
	PublicURL string
	// Challenge wraps the redirect (autocert.Manager.HTTPHandler), optional.
	Challenge func(fallback http.Handler) http.Handler
	// Log receives start and errors. Default: discard.
	Log *slog.Logger

	ln  net.Listener
	srv *http.Server
}

// Initialize listens and serves; call Close to stop.
func (r *Redirector) Initialize() error {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	var h http.Handler = http.HandlerFunc(r.redirect)
	if r.Challenge != nil {
		h = r.Challenge(h)
	}
	ln, err := net.Listen("tcp", r.Address)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w (is another program using the port? choose another with -http-redirect)", r.Address, err)
	}
	r.ln = ln
	r.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(r.Log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.Log.Error("http redirect port stopped", "error", err)
		}
	}()
	r.Log.Info("http redirect listening", "addr", ln.Addr().String())
	return nil
}

// redirect sends GET and HEAD to the same path on HTTPS; other methods get
// 400, so a form posted over plain HTTP is not silently sent on.
func (r *Redirector) redirect(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Connection", "close")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "use HTTPS", http.StatusBadRequest)
		return
	}
	base := ""
	if strings.HasPrefix(r.PublicURL, "https://") {
		base = strings.TrimRight(r.PublicURL, "/")
	} else {
		host := req.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if r.HTTPSPort != "" && r.HTTPSPort != "443" {
			host += ":" + r.HTTPSPort
		}
		base = "https://" + host
	}
	http.Redirect(w, req, base+req.URL.RequestURI(), http.StatusMovedPermanently)
}

// Addr is the address the port listens on.
func (r *Redirector) Addr() string {
	if r.ln == nil {
		return ""
	}
	return r.ln.Addr().String()
}

// Close stops the port.
func (r *Redirector) Close() {
	if r.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if r.srv.Shutdown(ctx) != nil {
		r.srv.Close()
	}
}
