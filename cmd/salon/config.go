package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/salon/salon/ingest"
	"github.com/salon/salon/web"
)

// Config is salon's whole configuration. It is filled from defaults, then the
// SALON_* environment, then flags: an explicit flag beats the ambient
// environment, so a one-off `salon -http :9000` works in a configured shell.
type Config struct {
	HTTP       string // HTTP listen address
	RTSP       string // RTSP listen address; empty disables
	RTMP       string // RTMP listen address; empty disables
	Data       string // data directory: secrets, spool
	Archive    string // archive directory or s3:http(s)://HOST:PORT/BUCKET[/PREFIX]
	AdminToken string
	PublishKey string
	PublicURL  string
	// Timezone is the event's IANA time zone (-timezone), e.g.
	// "Asia/Shanghai": pages show times in it. Empty: the machine's.
	Timezone string
	// ChatOrigins are other sites' origins allowed to open the chat
	// websocket (comma-separated in the flag); "*" allows any.
	ChatOrigins []string
	// ChatSharedNets are addresses many viewers share (comma-separated
	// CIDRs or addresses in the flag).
	ChatSharedNets []netip.Prefix
	Pulls          []Pull
	Demo           bool
	// Stats counts how the day went (viewers, replays, downloads) into
	// DATA/stats; -stats=false turns counting off.
	Stats bool
	// Ingest bounds the RTSP and RTMP ports: connections that do not
	// publish (handshake timeout, per port and per address), wrong keys,
	// publishers that send no media. Each port has its own budget.
	Ingest ingest.Limits

	SegmentDuration time.Duration
	// PartDuration is the LL-HLS part duration (-part); 0 serves classic HLS.
	PartDuration time.Duration
	Window       time.Duration
	LogLevel     string
	// MaxSpool is the local spool size that salon expects the disk to hold
	// while the bucket is unreachable; at 90 % it warns loudly.
	MaxSpool int64
	// MaxUpload caps one slide file, in bytes (-max-upload-mb).
	MaxUpload int64
	// HTTPLimits bound connections and request bodies on the HTTP port
	// (-http-max-conns, -http-reserve-conns, -http-max-conns-per-addr,
	// -http-body-min-rate, -http-body-grace, -http-body-idle, -http-write-idle,
	// -viewer-ids-per-addr). -chat-shared-nets are exempt from the
	// per-address limits.
	HTTPLimits web.Limits
	// S3 credentials, from the variables every S3 tool reads.
	AWSAccessKey, AWSSecretKey, AWSRegion string

	// TLS makes the HTTP port serve HTTPS (config_tls.go).
	TLS TLSConfig

	// Transcode makes renditions with an ffmpeg child (config_transcode.go).
	Transcode TranscodeConfig

	// Cluster joins salon nodes over NATS (config_cluster.go).
	Cluster ClusterConfig

	// Debug, when set, serves Go's profiler (/debug/pprof/) on its own
	// listener; keep it on loopback.
	Debug string
}

// Pull is one `-pull stage=rtsp://…` source.
type Pull struct{ Stage, URL string }

type pullList struct{ cfg *Config }

func (p pullList) String() string { return "" }
func (p pullList) Set(v string) error {
	stage, u, err := ingest.ParsePull(v)
	if err != nil {
		return err
	}
	p.cfg.Pulls = append(p.cfg.Pulls, Pull{Stage: stage, URL: u})
	return nil
}

func defaultConfig() Config {
	return Config{
		HTTP:            ":8080",
		RTSP:            ":8554",
		RTMP:            ":1935",
		Data:            "./salon-data",
		SegmentDuration: 2 * time.Second,
		// Low-Latency HLS by default (DESIGN.md): on the quiet 2-core
		// reference machine 1,500 LL viewers played without a stall and
		// classic players of the same playlist 2,000 (docs/benchmarks.md,
		// "Low latency against MediaMTX"); -part 0 serves classic HLS.
		PartDuration: 200 * time.Millisecond,
		MaxSpool:     20 << 30,
		MaxUpload:    200 << 20,
		Window:       30 * time.Second,
		LogLevel:     "info",
		TLS:          TLSConfig{ACMEDirectory: autocert.DefaultACMEDirectory},
		Ingest:       ingest.DefaultLimits(),
		Stats:        true,
		HTTPLimits: web.Limits{
			MaxConns:         web.DefaultMaxConns,
			ReserveConns:     web.DefaultReserveConns,
			MaxConnsPerAddr:  web.DefaultMaxConnsPerAddr,
			BodyMinRate:      web.DefaultBodyMinRate,
			BodyGrace:        web.DefaultBodyGrace,
			BodyIdle:         web.DefaultBodyIdle,
			WriteIdle:        web.DefaultWriteIdle,
			ViewerIDsPerAddr: web.DefaultViewerIDsPerAddr,
		},
	}
}

// parseConfig reads defaults, then environment (getenv), then args.
func parseConfig(args []string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("salon", flag.ContinueOnError)
	type strFlag struct {
		name, env string
		dst       *string
		usage     string
	}
	strs := []strFlag{
		{"http", "SALON_HTTP", &cfg.HTTP, "HTTP listen address (pages, HLS, API)"},
		{"rtsp", "SALON_RTSP", &cfg.RTSP, "RTSP listen address for publishers; empty disables"},
		{"rtmp", "SALON_RTMP", &cfg.RTMP, "RTMP listen address for OBS; empty disables"},
		{"data", "SALON_DATA", &cfg.Data, "data directory (secrets, spool)"},
		{"archive", "SALON_ARCHIVE", &cfg.Archive, "archive: a directory, or s3:http(s)://HOST:PORT/BUCKET[/PREFIX] (default DATA/archive)"},
		{"admin-token", "SALON_ADMIN_TOKEN", &cfg.AdminToken, "organiser token (default: generated once, kept in DATA)"},
		{"publish-key", "SALON_PUBLISH_KEY", &cfg.PublishKey, "publish key for RTSP/RTMP (default: generated once, kept in DATA)"},
		{"public-url", "SALON_PUBLIC_URL", &cfg.PublicURL, "public base URL shown in pages and printed links, e.g. https://salon.example.org"},
		{"timezone", "SALON_TIMEZONE", &cfg.Timezone, "the event's time zone, an IANA name like Asia/Shanghai: pages show times in it (default: the machine's)"},
		{"log-level", "SALON_LOG_LEVEL", &cfg.LogLevel, "debug, info, warn or error"},
		{"debug-addr", "SALON_DEBUG_ADDR", &cfg.Debug, "serve Go's profiler at /debug/pprof/ on this address, e.g. 127.0.0.1:6060 (off when empty)"},
	}
	for _, f := range strs {
		if v, ok := lookup(getenv, f.env); ok {
			*f.dst = v
		}
		fs.StringVar(f.dst, f.name, *f.dst, f.usage+" ($"+f.env+")")
	}
	durs := []struct {
		name, env string
		dst       *time.Duration
		usage     string
	}{
		{"segment", "SALON_SEGMENT", &cfg.SegmentDuration, "target HLS segment duration (cut at the next keyframe)"},
		{"part", "SALON_PART", &cfg.PartDuration, "Low-Latency HLS part duration (parts of each segment, preload hints, blocking reloads: about a second behind live in hls.js and Safari); 0 serves classic HLS only"},
		{"window", "SALON_WINDOW", &cfg.Window, "live playlist window"},
		{"ingest-handshake-timeout", "SALON_INGEST_HANDSHAKE_TIMEOUT", &cfg.Ingest.HandshakeTimeout, "RTSP/RTMP: close a connection that has not started publishing within this time"},
		{"ingest-media-timeout", "SALON_INGEST_MEDIA_TIMEOUT", &cfg.Ingest.MediaTimeout, "RTSP/RTMP/pull: end a publish that sends no audio or video for this long, freeing its stage"},
		{"http-body-grace", "SALON_HTTP_BODY_GRACE", &cfg.HTTPLimits.BodyGrace, "time a request body has to start arriving before -http-body-min-rate counts"},
		{"http-body-idle", "SALON_HTTP_BODY_IDLE", &cfg.HTTPLimits.BodyIdle, "longest pause inside a request body"},
		{"http-write-idle", "SALON_HTTP_WRITE_IDLE", &cfg.HTTPLimits.WriteIdle, "longest a response may wait for a client that stopped reading"},
	}
	for _, f := range durs {
		if v, ok := lookup(getenv, f.env); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return cfg, fmt.Errorf("$%s: %q is not a duration like 2s", f.env, v)
			}
			*f.dst = d
		}
		fs.DurationVar(f.dst, f.name, *f.dst, f.usage+" ($"+f.env+")")
	}
	ints := []struct {
		name, env string
		dst       *int
		usage     string
	}{
		{"ingest-max-conns", "SALON_INGEST_MAX_CONNS", &cfg.Ingest.MaxConns, "RTSP/RTMP: connections per port that are not publishing; when full, the oldest is closed (publishers are never counted)"},
		{"ingest-max-conns-per-addr", "SALON_INGEST_MAX_CONNS_PER_ADDR", &cfg.Ingest.MaxConnsPerAddr, "RTSP/RTMP: the same per client address (IPv4 address or IPv6 /64)"},
		{"http-max-conns", "SALON_HTTP_MAX_CONNS", &cfg.HTTPLimits.MaxConns, "most connections the HTTP port holds at once, websockets included"},
		{"http-reserve-conns", "SALON_HTTP_RESERVE_CONNS", &cfg.HTTPLimits.ReserveConns, "of -http-max-conns, the last ones kept for the organiser's requests (admin token or console session)"},
		{"http-max-conns-per-addr", "SALON_HTTP_MAX_CONNS_PER_ADDR", &cfg.HTTPLimits.MaxConnsPerAddr, "most HTTP connections from one address (IPv6: one /64); -chat-shared-nets are exempt"},
		{"http-body-min-rate", "SALON_HTTP_BODY_MIN_RATE", &cfg.HTTPLimits.BodyMinRate, "slowest a request body (a slide upload) may arrive, in bytes per second"},
		{"viewer-ids-per-addr", "SALON_VIEWER_IDS_PER_ADDR", &cfg.HTTPLimits.ViewerIDsPerAddr, "most viewers one address counts as per stage; -chat-shared-nets are exempt"},
	}
	for _, f := range ints {
		if v, ok := lookup(getenv, f.env); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return cfg, fmt.Errorf("$%s: %q is not a whole number", f.env, v)
			}
			*f.dst = n
		}
		fs.IntVar(f.dst, f.name, *f.dst, f.usage+" ($"+f.env+")")
	}
	chatOrigins := ""
	if v, ok := lookup(getenv, "SALON_CHAT_ORIGINS"); ok {
		chatOrigins = v
	}
	chatShared := ""
	if v, ok := lookup(getenv, "SALON_CHAT_SHARED_NETS"); ok {
		chatShared = v
	}
	fs.StringVar(&chatShared, "chat-shared-nets", chatShared, "addresses many viewers share, e.g. the venue's NAT when salon is hosted elsewhere: chat limits them per connection, not per address; comma-separated CIDRs or addresses ($SALON_CHAT_SHARED_NETS)")
	fs.StringVar(&chatOrigins, "chat-origins", chatOrigins, "other sites allowed to open the chat websocket, comma-separated: https://community.example.org,… or * ($SALON_CHAT_ORIGINS)")
	if v, ok := lookup(getenv, "SALON_PULL"); ok {
		for _, p := range strings.Fields(v) {
			if err := (pullList{&cfg}).Set(p); err != nil {
				return cfg, fmt.Errorf("$SALON_PULL: %w", err)
			}
		}
	}
	fs.Var(pullList{&cfg}, "pull", "pull an RTSP camera onto a stage: STAGE=rtsp://… (repeatable; $SALON_PULL, space-separated)")
	cfg.AWSAccessKey, cfg.AWSSecretKey, cfg.AWSRegion = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_REGION")
	spoolGB := cfg.MaxSpool >> 30
	if v, ok := lookup(getenv, "SALON_MAX_SPOOL_GB"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("$SALON_MAX_SPOOL_GB: %q is not a whole number of GB", v)
		}
		spoolGB = n
	}
	fs.Int64Var(&spoolGB, "max-spool-gb", spoolGB, "local spool size in GB for segments waiting for the bucket; warns at 90 % ($SALON_MAX_SPOOL_GB)")
	uploadMB := cfg.MaxUpload >> 20
	if v, ok := lookup(getenv, "SALON_MAX_UPLOAD_MB"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("$SALON_MAX_UPLOAD_MB: %q is not a whole number of MB", v)
		}
		uploadMB = n
	}
	fs.Int64Var(&uploadMB, "max-upload-mb", uploadMB, "largest slide file a speaker may upload, in MB (2^20 bytes) ($SALON_MAX_UPLOAD_MB)")
	if v, ok := lookup(getenv, "SALON_DEMO"); ok {
		cfg.Demo = v == "1" || v == "true"
	}
	fs.BoolVar(&cfg.Demo, "demo", cfg.Demo, "also publish a built-in test stream to stage \"main\" ($SALON_DEMO)")
	if v, ok := lookup(getenv, "SALON_STATS"); ok {
		cfg.Stats = v == "1" || v == "true"
	}
	fs.BoolVar(&cfg.Stats, "stats", cfg.Stats, "count viewers, replays and downloads for /api/stats, in DATA/stats, without keeping addresses or ids ($SALON_STATS)")
	tlsDone := tlsFlags(fs, &cfg.TLS, getenv)
	transcodeDone := transcodeFlags(fs, &cfg.Transcode, getenv)
	clusterDone := clusterFlags(fs, &cfg.Cluster, getenv)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	tlsDone()
	if err := transcodeDone(); err != nil {
		return cfg, err
	}
	if err := clusterDone(); err != nil {
		return cfg, err
	}
	cfg.MaxSpool = spoolGB << 30
	cfg.MaxUpload = uploadMB << 20
	if uploadMB > 1<<20 { // a terabyte: also keeps the shift from overflowing
		return cfg, errors.New("-max-upload-mb: at most 1048576")
	}
	for _, n := range strings.Split(chatShared, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return cfg, fmt.Errorf("-chat-shared-nets %q: want CIDRs or addresses like 203.0.113.7 or 203.0.113.0/24", n)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		cfg.ChatSharedNets = append(cfg.ChatSharedNets, p.Masked())
	}
	for _, o := range strings.Split(chatOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.ChatOrigins = append(cfg.ChatOrigins, o)
		}
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if cfg.Archive == "" {
		cfg.Archive = filepath.Join(cfg.Data, "archive")
	}
	return cfg, cfg.Validate()
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// Validate checks every value and names the flag at fault.
func (c *Config) Validate() error {
	addrs := []struct{ flag, v string }{{"-http", c.HTTP}, {"-rtsp", c.RTSP}, {"-rtmp", c.RTMP}, {"-debug-addr", c.Debug}}
	for i, a := range addrs {
		if a.v == "" {
			if i == 0 {
				return errors.New("-http must not be empty")
			}
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%s %q: want HOST:PORT or :PORT", a.flag, a.v)
		}
	}
	if c.Data == "" {
		return errors.New("-data must not be empty")
	}
	if c.MaxSpool < 1<<30 {
		return errors.New("-max-spool-gb: at least 1")
	}
	if c.MaxUpload < 1<<20 {
		return errors.New("-max-upload-mb: at least 1")
	}
	if err := validLimits(c.HTTPLimits); err != nil {
		return err
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if err := c.Cluster.validateNodeURL(c.HTTP); err != nil {
		return err
	}
	if c.SegmentDuration < 500*time.Millisecond || c.SegmentDuration > 20*time.Second {
		return fmt.Errorf("-segment %s: choose between 500ms and 20s", c.SegmentDuration)
	}
	if c.PartDuration != 0 && (c.PartDuration < 100*time.Millisecond || c.PartDuration > c.SegmentDuration/2) {
		return fmt.Errorf("-part %s: choose 0 (classic HLS) or between 100ms and half of -segment (%s); 200ms is usual", c.PartDuration, c.SegmentDuration/2)
	}
	if c.Window < 3*c.SegmentDuration {
		return fmt.Errorf("-window %s: must hold at least 3 segments (3 × -segment = %s)", c.Window, 3*c.SegmentDuration)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-public-url %q: want http(s)://HOST[:PORT]", c.PublicURL)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	for _, o := range c.ChatOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("-chat-origins %q: want http(s)://HOST[:PORT] or *", o)
		}
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "Local" {
			return fmt.Errorf("-timezone %q: want an IANA time zone name like Asia/Shanghai or Europe/Berlin", c.Timezone)
		}
	}
	switch {
	case c.Ingest.HandshakeTimeout < time.Second || c.Ingest.HandshakeTimeout > 5*time.Minute:
		return fmt.Errorf("-ingest-handshake-timeout %s: choose between 1s and 5m", c.Ingest.HandshakeTimeout)
	case c.Ingest.MediaTimeout < time.Second || c.Ingest.MediaTimeout > 5*time.Minute:
		return fmt.Errorf("-ingest-media-timeout %s: choose between 1s and 5m", c.Ingest.MediaTimeout)
	case c.Ingest.MaxConns < 1:
		return fmt.Errorf("-ingest-max-conns %d: at least 1", c.Ingest.MaxConns)
	case c.Ingest.MaxConnsPerAddr < 1 || c.Ingest.MaxConnsPerAddr > c.Ingest.MaxConns:
		return fmt.Errorf("-ingest-max-conns-per-addr %d: between 1 and -ingest-max-conns (%d)", c.Ingest.MaxConnsPerAddr, c.Ingest.MaxConns)
	}
	if err := c.Ingest.Validate(); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("-log-level %q: use debug, info, warn or error", c.LogLevel)
	}
	for _, tok := range []struct{ flag, v string }{{"-admin-token", c.AdminToken}, {"-publish-key", c.PublishKey}} {
		if tok.v != "" && len(tok.v) < 8 {
			return fmt.Errorf("%s: too short, use at least 8 characters", tok.flag)
		}
		if strings.ContainsAny(tok.v, " /?&#@:") {
			return fmt.Errorf("%s: use only letters, digits, '-' and '_' (it goes into URLs)", tok.flag)
		}
	}
	return nil
}

// validLimits checks the HTTP limits and names the flag at fault.
func validLimits(l web.Limits) error {
	switch {
	case l.MaxConns < 16:
		return fmt.Errorf("-http-max-conns %d: at least 16", l.MaxConns)
	case l.ReserveConns < 1 || l.ReserveConns >= l.MaxConns/2:
		return fmt.Errorf("-http-reserve-conns %d: between 1 and half of -http-max-conns (%d)", l.ReserveConns, l.MaxConns/2)
	case l.MaxConnsPerAddr < 8:
		return fmt.Errorf("-http-max-conns-per-addr %d: at least 8 (a browser opens about six)", l.MaxConnsPerAddr)
	case l.BodyMinRate < 100:
		return fmt.Errorf("-http-body-min-rate %d: at least 100 bytes per second", l.BodyMinRate)
	case l.BodyGrace < time.Second:
		return fmt.Errorf("-http-body-grace %s: at least 1s", l.BodyGrace)
	case l.BodyIdle < time.Second:
		return fmt.Errorf("-http-body-idle %s: at least 1s", l.BodyIdle)
	case l.WriteIdle < time.Second:
		return fmt.Errorf("-http-write-idle %s: at least 1s", l.WriteIdle)
	case l.ViewerIDsPerAddr < 1:
		return fmt.Errorf("-viewer-ids-per-addr %d: at least 1", l.ViewerIDsPerAddr)
	}
	return nil
}

// loadSecret returns v when set, else the secret kept in dir/name, generating
// and saving it the first time so that it survives restarts.
func loadSecret(dir, name, v string) (string, error) {
	if v != "" {
		return v, nil
	}
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create data directory %s: %w (check -data)", dir, err)
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save %s: %w (check -data is writable)", path, err)
	}
	return s, nil
}

// getenvOf gives the archive the S3 credentials the configuration read, so
// that nothing below cmd reads the process environment.
func getenvOf(c Config) func(string) string {
	return func(k string) string {
		switch k {
		case "AWS_ACCESS_KEY_ID":
			return c.AWSAccessKey
		case "AWS_SECRET_ACCESS_KEY":
			return c.AWSSecretKey
		case "AWS_REGION":
			return c.AWSRegion
		}
		return ""
	}
}

// fitLimits keeps the HTTP port's connection budget to half of the open-file
// limit (nofile; 0 is unknown), so that viewers can never take the files that
// publishers, the spool and the archive need. It returns the limits and
// whether they were lowered.
func fitLimits(l web.Limits, nofile int) (web.Limits, bool) {
	if nofile <= 0 || l.MaxConns <= nofile/2 {
		return l, false
	}
	l.MaxConns = max(nofile/2, 16)
	if l.ReserveConns >= l.MaxConns/2 {
		l.ReserveConns = max(l.MaxConns/8, 1)
	}
	return l, true
}
