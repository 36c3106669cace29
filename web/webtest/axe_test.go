package webtest

import (
	"encoding/json"
	"os"
	"testing"
)

// TestAxe_VersionMatchesLock: the axe-core the helpers embed is the one
// web/package-lock.json pins.
func TestAxe_VersionMatchesLock(t *testing.T) {
	b, err := os.ReadFile("../package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	if got := lock.Packages["node_modules/axe-core"].Version; got != AxeVersion {
		t.Fatalf("package-lock.json pins axe-core %q, webtest.AxeVersion is %q", got, AxeVersion)
	}
	if _, err := axeFS.ReadFile("vendor/axe-core-" + AxeVersion + "/axe.min.js"); err != nil {
		t.Fatalf("axe-core is not vendored: run go generate ./web (%v)", err)
	}
}
