package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.HTTP != ":8080" || c.RTSP != ":8554" || c.RTMP != ":1935" || c.Data != "./salon-data" {
				t.Fatalf("defaults: %+v", c)
			}
			if c.MaxUpload != 200<<20 {
				t.Fatalf("MaxUpload default %d, want 200 MB", c.MaxUpload)
			}
			if c.Archive != filepath.Join("./salon-data", "archive") {
				t.Fatalf("archive default %q", c.Archive)
			}
		}},
		{name: "env", env: map[string]string{"SALON_HTTP": ":9000", "SALON_RTMP": "", "SALON_DATA": "/tmp/x", "SALON_SEGMENT": "4s"},
			check: func(t *testing.T, c Config) {
				if c.HTTP != ":9000" || c.Data != "/tmp/x" || c.SegmentDuration != 4*time.Second || c.Archive != "/tmp/x/archive" {
					t.Fatalf("env not applied: %+v", c)
				}
			}},
		{name: "flag beats env", args: []string{"-http", ":9100"}, env: map[string]string{"SALON_HTTP": ":9000"},
			check: func(t *testing.T, c Config) {
				if c.HTTP != ":9100" {
					t.Fatalf("HTTP = %q", c.HTTP)
				}
			}},
		{name: "empty rtmp disables", args: []string{"-rtmp", ""}, check: func(t *testing.T, c Config) {
			if c.RTMP != "" {
				t.Fatalf("RTMP = %q", c.RTMP)
			}
		}},
		{name: "pulls", args: []string{"-pull", "main=rtsp://cam/1", "-pull", "side=rtsp://cam/2"}, check: func(t *testing.T, c Config) {
			if len(c.Pulls) != 2 || c.Pulls[1].Stage != "side" || c.Pulls[1].URL != "rtsp://cam/2" {
				t.Fatalf("pulls = %+v", c.Pulls)
			}
		}},
		{name: "upload cap", env: map[string]string{"SALON_MAX_UPLOAD_MB": "50"}, check: func(t *testing.T, c Config) {
			if c.MaxUpload != 50<<20 {
				t.Fatalf("MaxUpload = %d", c.MaxUpload)
			}
		}},
		{name: "upload cap flag", args: []string{"-max-upload-mb", "7"}, env: map[string]string{"SALON_MAX_UPLOAD_MB": "50"}, check: func(t *testing.T, c Config) {
			if c.MaxUpload != 7<<20 {
				t.Fatalf("MaxUpload = %d", c.MaxUpload)
			}
		}},
		{name: "upload cap zero", args: []string{"-max-upload-mb", "0"}, wantErr: "-max-upload-mb"},
		{name: "upload cap env", env: map[string]string{"SALON_MAX_UPLOAD_MB": "lots"}, wantErr: "SALON_MAX_UPLOAD_MB"},
		{name: "bad pull", args: []string{"-pull", "Main=rtsp://cam"}, wantErr: "pull"},
		{name: "bad http", args: []string{"-http", "8080"}, wantErr: "-http"},
		{name: "bad segment env", env: map[string]string{"SALON_SEGMENT": "two"}, wantErr: "SALON_SEGMENT"},
		{name: "tiny window", args: []string{"-window", "3s"}, wantErr: "-window"},
		{name: "part default: low latency", check: func(t *testing.T, c Config) {
			if c.PartDuration != 200*time.Millisecond {
				t.Fatalf("PartDuration default %s, want 200ms (Low-Latency HLS, DESIGN.md)", c.PartDuration)
			}
		}},
		{name: "part off", args: []string{"-part", "0"}, check: func(t *testing.T, c Config) {
			if c.PartDuration != 0 {
				t.Fatalf("PartDuration %s, want 0 (classic HLS)", c.PartDuration)
			}
		}},
		{name: "part on", env: map[string]string{"SALON_PART": "200ms"}, check: func(t *testing.T, c Config) {
			if c.PartDuration != 200*time.Millisecond {
				t.Fatalf("PartDuration %s, want 200ms", c.PartDuration)
			}
		}},
		{name: "part flag", args: []string{"-part", "300ms"}, env: map[string]string{"SALON_PART": "0"}, check: func(t *testing.T, c Config) {
			if c.PartDuration != 300*time.Millisecond {
				t.Fatalf("PartDuration %s, want 300ms", c.PartDuration)
			}
		}},
		{name: "part too long", args: []string{"-part", "1500ms"}, wantErr: "-part"},
		{name: "part too short", args: []string{"-part", "10ms"}, wantErr: "-part"},
		{name: "bad public url", args: []string{"-public-url", "salon.example.org"}, wantErr: "-public-url"},
		{name: "chat origins", env: map[string]string{"SALON_CHAT_ORIGINS": "https://a.example.org, https://b.example.org:8443"},
			check: func(t *testing.T, c Config) {
				if strings.Join(c.ChatOrigins, " ") != "https://a.example.org https://b.example.org:8443" {
					t.Fatalf("ChatOrigins = %q", c.ChatOrigins)
				}
			}},
		{name: "shared nets", args: []string{"-chat-shared-nets", "203.0.113.7, 198.51.100.0/24"},
			check: func(t *testing.T, c Config) {
				if len(c.ChatSharedNets) != 2 || c.ChatSharedNets[0].String() != "203.0.113.7/32" || c.ChatSharedNets[1].String() != "198.51.100.0/24" {
					t.Fatalf("ChatSharedNets = %v", c.ChatSharedNets)
				}
			}},
		{name: "timezone", env: map[string]string{"SALON_TIMEZONE": "Europe/Berlin"}, args: []string{"-timezone", "Asia/Shanghai"}, check: func(t *testing.T, c Config) {
			if c.Timezone != "Asia/Shanghai" {
				t.Errorf("timezone %q, want the flag's", c.Timezone)
			}
		}},
		{name: "bad timezone", env: map[string]string{"SALON_TIMEZONE": "Beijing"}, wantErr: "-timezone"},
		{name: "Local is no zone name", args: []string{"-timezone", "Local"}, wantErr: "-timezone"},
		{name: "http limits", args: []string{"-http-max-conns", "2000", "-http-body-grace", "5s", "-viewer-ids-per-addr", "4"},
			env: map[string]string{"SALON_HTTP_MAX_CONNS_PER_ADDR": "32", "SALON_HTTP_BODY_MIN_RATE": "4096"},
			check: func(t *testing.T, c Config) {
				l := c.HTTPLimits
				if l.MaxConns != 2000 || l.MaxConnsPerAddr != 32 || l.BodyMinRate != 4096 || l.BodyGrace != 5*time.Second ||
					l.ViewerIDsPerAddr != 4 || l.ReserveConns != 64 || l.BodyIdle != 30*time.Second {
					t.Fatalf("HTTPLimits = %+v", l)
				}
			}},
		{name: "reserve too large", args: []string{"-http-max-conns", "100", "-http-reserve-conns", "60"}, wantErr: "-http-reserve-conns"},
		{name: "bad limit env", env: map[string]string{"SALON_HTTP_MAX_CONNS": "many"}, wantErr: "SALON_HTTP_MAX_CONNS"},
		{name: "bad shared net", env: map[string]string{"SALON_CHAT_SHARED_NETS": "venue"}, wantErr: "-chat-shared-nets"},
		{name: "bad chat origin", args: []string{"-chat-origins", "a.example.org"}, wantErr: "-chat-origins"},
		{name: "short key", args: []string{"-publish-key", "abc"}, wantErr: "-publish-key"},
		{name: "key with slash", args: []string{"-publish-key", "abcdefgh/ij"}, wantErr: "-publish-key"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected argument"},
		{name: "ingest limits default", check: func(t *testing.T, c Config) {
			if c.Ingest.HandshakeTimeout != 10*time.Second || c.Ingest.MediaTimeout != 10*time.Second ||
				c.Ingest.MaxConns != 64 || c.Ingest.MaxConnsPerAddr != 8 || c.Ingest.KeyFailures != 10 || c.Ingest.KeyWindow != time.Minute {
				t.Fatalf("ingest limits: %+v", c.Ingest)
			}
		}},
		{name: "ingest limits", args: []string{"-ingest-max-conns", "200", "-ingest-media-timeout", "30s"},
			env: map[string]string{"SALON_INGEST_MAX_CONNS_PER_ADDR": "20", "SALON_INGEST_HANDSHAKE_TIMEOUT": "5s", "SALON_INGEST_MAX_CONNS": "100"},
			check: func(t *testing.T, c Config) {
				if c.Ingest.MaxConns != 200 || c.Ingest.MaxConnsPerAddr != 20 || c.Ingest.HandshakeTimeout != 5*time.Second || c.Ingest.MediaTimeout != 30*time.Second {
					t.Fatalf("ingest limits: %+v", c.Ingest)
				}
			}},
		{name: "ingest conns env", env: map[string]string{"SALON_INGEST_MAX_CONNS": "many"}, wantErr: "SALON_INGEST_MAX_CONNS"},
		{name: "ingest zero conns", args: []string{"-ingest-max-conns", "0"}, wantErr: "-ingest-max-conns"},
		{name: "ingest per addr over total", args: []string{"-ingest-max-conns-per-addr", "100"}, wantErr: "-ingest-max-conns-per-addr"},
		{name: "ingest short handshake", args: []string{"-ingest-handshake-timeout", "100ms"}, wantErr: "-ingest-handshake-timeout"},
		{name: "ingest short media timeout", args: []string{"-ingest-media-timeout", "0s"}, wantErr: "-ingest-media-timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := parseCase(t, tc.args, tc.env, tc.wantErr)
			if !ok {
				return
			}
			tc.check(t, c)
		})
	}
}

func TestLoadSecret_KeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	a, err := loadSecret(dir, "publish-key", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) < 20 {
		t.Fatalf("generated secret %q is too short", a)
	}
	b, err := loadSecret(dir, "publish-key", "")
	if err != nil || a != b {
		t.Fatalf("second load = %q, %v; want %q", b, err, a)
	}
	st, err := os.Stat(filepath.Join(dir, "publish-key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode = %v, %v; want 0600", st.Mode(), err)
	}
	if c, _ := loadSecret(dir, "publish-key", "given-key"); c != "given-key" {
		t.Fatalf("an explicit key must win, got %q", c)
	}
}

func TestEventLocation(t *testing.T) {
	env := func(tz string) func(string) string {
		return func(k string) string {
			if k == "TZ" {
				return tz
			}
			return ""
		}
	}
	cases := []struct{ flag, tz, want string }{
		{"Asia/Shanghai", "Europe/Berlin", "Asia/Shanghai"},
		{"", "Europe/Berlin", "Europe/Berlin"},
		{"", ":America/New_York", "America/New_York"},
	}
	for _, tc := range cases {
		if got := eventLocation(tc.flag, env(tc.tz)).String(); got != tc.want {
			t.Errorf("eventLocation(%q) with TZ=%q: %s, want %s", tc.flag, tc.tz, got, tc.want)
		}
	}
	// Without a name anywhere it is still a zone (the machine's, or Local).
	if eventLocation("", env("")) == nil {
		t.Error("no location without TZ")
	}
}

func TestFitLimits(t *testing.T) {
	def := defaultConfig().HTTPLimits
	cases := []struct {
		nofile           int
		maxConns, reserv int
		lowered          bool
	}{
		{0, 8192, 64, false},       // unknown
		{1 << 20, 8192, 64, false}, // plenty
		{256, 128, 16, true},       // prlimit --nofile=256
		{1024, 512, 64, true},
		{20, 16, 2, true},
	}
	for _, tc := range cases {
		got, lowered := fitLimits(def, tc.nofile)
		if got.MaxConns != tc.maxConns || got.ReserveConns != tc.reserv || lowered != tc.lowered {
			t.Errorf("fitLimits(nofile %d) = %d conns, %d reserve, lowered %v; want %d, %d, %v",
				tc.nofile, got.MaxConns, got.ReserveConns, lowered, tc.maxConns, tc.reserv, tc.lowered)
		}
	}
}

// parseCase parses a table case's flags and environment. With wantErr it
// checks that parsing failed with an error naming it and returns false;
// otherwise it fails the test on an error and returns the config.
func parseCase(t *testing.T, args []string, env map[string]string, wantErr string) (Config, bool) {
	t.Helper()
	c, err := parseConfig(args, envOf(env))
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one naming %q", err, wantErr)
		}
		return c, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, true
}
