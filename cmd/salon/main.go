// Command salon runs a community salon's live video, chat and replay library
// in one process. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "salon:", err)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	a, err := startApp(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "salon:", err)
		return 1
	}
	a.printBanner(stdout)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down: finishing open segments")
	a.Close()
	log.Info("stopped")
	return 0
}

// printBanner tells a person what to open and where to publish.
func (a *app) printBanner(w io.Writer) {
	host := "localhost"
	if ip := lanIP(); ip != "" {
		host = ip
	}
	httpBase := a.cfg.PublicURL
	switch {
	case httpBase != "":
	case len(a.cfg.TLS.ACME) > 0:
		httpBase = "https://" + strings.TrimSuffix(joinHost(a.cfg.TLS.ACME[0], a.web.Addr()), ":443")
	case a.cfg.TLS.On():
		httpBase = "https://" + joinHost(host, a.web.Addr())
	default:
		httpBase = "http://" + joinHost(host, a.web.Addr())
	}
	fmt.Fprintf(w, "\nsalon is running\n\n")
	fmt.Fprintf(w, "  watch          %s/live/main\n", httpBase)
	fmt.Fprintf(w, "  home           %s/\n", httpBase)
	fmt.Fprintf(w, "  stages (JSON)  %s/api/stages\n", httpBase)
	fmt.Fprintf(w, "  console        %s/admin (log in with the token printed below)\n\n", httpBase)
	if a.rtmp != nil {
		fmt.Fprintf(w, "  OBS            server rtmp://%s/live   stream key main?key=%s\n", joinHost(host, a.rtmp.Addr()), a.publishKey)
	}
	if a.rtsp != nil {
		fmt.Fprintf(w, "  ffmpeg / RTSP  rtsp://%s/live/main?key=%s\n", joinHost(host, a.rtsp.Addr()), a.publishKey)
	}
	if a.rtmps != nil {
		fmt.Fprintf(w, "  OBS over TLS   server rtmps://%s/live   stream key main?key=%s\n", joinHost(host, a.rtmps.Addr()), a.publishKey)
	}
	if a.rtsps != nil {
		fmt.Fprintf(w, "  RTSP over TLS  rtsps://%s/live/main?key=%s\n", joinHost(host, a.rtsps.Addr()), a.publishKey)
	}
	for _, p := range a.cfg.Pulls {
		fmt.Fprintf(w, "  pulling        %s from %s\n", p.Stage, redact(p.URL))
	}
	if a.demo != nil {
		fmt.Fprintf(w, "  demo           built-in test stream on stage main\n")
	}
	fmt.Fprintf(w, "\n  publish key    %s\n  admin token    %s\n  data           %s\n  archive        %s\n\n",
		a.publishKey, a.adminToken, a.cfg.Data, a.archiveDesc)
}

// joinHost puts host in front of the port of a bound address.
func joinHost(host, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(host, port)
}

// lanIP returns the first private IPv4 address of this machine, for links that
// other devices in the venue can open. It only reads interface addresses.
func lanIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsPrivate() {
			return ipn.IP.String()
		}
	}
	return ""
}

// redact hides credentials in a camera URL.
func redact(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "…@" + u[i+1:]
		}
	}
	return u
}
