package testkit

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// ServiceBinary finds the binary of a test service (minio, nats-server,
// …): $env when set, else ${XDG_CACHE_HOME:-$HOME/.cache}/salon/bin/name,
// where .ci/run installs it, else name on PATH; "" when there is none.
func ServiceBinary(env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "salon", "bin", name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	p, _ := exec.LookPath(name)
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. A
// service started on it may still find it taken (another process bound it
// in between): callers retry with a new port on that error.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
