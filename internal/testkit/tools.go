package testkit

import (
	"os/exec"
	"testing"
)

// Tool returns the path of an external program a test needs (ffmpeg,
// ffprobe, …) and skips the test, saying how to install it, when it is not
// on PATH. CI installs every tool, so there it never skips.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := name
		if name == "ffprobe" {
			pkg = "ffmpeg"
		}
		t.Skipf("%s is not installed; install it (apt-get install %s) to run this test", name, pkg)
	}
	return p
}
