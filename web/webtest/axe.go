package webtest

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// AxeVersion is the axe-core that web/vendor.sh copies into vendor/; it must
// match web/package-lock.json (TestAxe_VersionMatchesLock checks).
const AxeVersion = "4.14.1"

// axeFS holds axe-core for the accessibility tests only: it is embedded here,
// in the test helpers, never in salon's served assets. "all:" keeps the
// package compiling when vendor.sh has not run (vendor/ then holds only its
// README, and Axe says what to do).
//
//go:embed all:vendor
var axeFS embed.FS

// AxeViolation is one rule axe-core found broken, with the elements that
// break it.
type AxeViolation struct {
	ID          string    `json:"id"`
	Impact      string    `json:"impact"`
	Help        string    `json:"help"`
	HelpURL     string    `json:"helpUrl"`
	Nodes       []AxeNode `json:"nodes"`
	Description string    `json:"description"`
}

// AxeNode is one element that breaks a rule.
type AxeNode struct {
	Target         []any  `json:"target"` // CSS selectors (nested arrays for frames and shadow roots)
	HTML           string `json:"html"`
	FailureSummary string `json:"failureSummary"`
}

// Axe runs axe-core on the page in ctx (WCAG 2.x A and AA rules and axe's best
// practices) and returns the violations it finds.
func Axe(ctx context.Context) ([]AxeViolation, error) {
	src, err := axeFS.ReadFile("vendor/axe-core-" + AxeVersion + "/axe.min.js")
	if err != nil {
		return nil, fmt.Errorf("axe-core %s is not vendored (run go generate ./web): %w", AxeVersion, err)
	}
	// Injected through the DevTools protocol, so the page's CSP does not
	// apply and nothing is served over HTTP.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(src)+"\n;0")); err != nil {
		return nil, fmt.Errorf("inject axe-core: %w", err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
		resultTypes: ['violations']
	}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	var v []AxeViolation
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode axe-core's results: %w", err)
	}
	return v, nil
}

// CheckAxe runs axe-core on the page and fails the test (without stopping
// it) with a readable report of every violation: rule, impact, what to do,
// and each element's selector and HTML.
func CheckAxe(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	v, err := Axe(ctx)
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	if len(v) > 0 {
		t.Errorf("%s: axe-core finds %d violation(s):\n%s", page, len(v), FormatAxe(v))
	}
}

// FormatAxe lists violations one rule a paragraph, at most 5 elements each.
func FormatAxe(vs []AxeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  [%s] %s: %s (%s)\n", v.Impact, v.ID, v.Help, v.HelpURL)
		for i, n := range v.Nodes {
			if i == 5 {
				fmt.Fprintf(&b, "      … and %d more\n", len(v.Nodes)-5)
				break
			}
			html := n.HTML
			if len(html) > 160 {
				html = html[:160] + "…"
			}
			summary := strings.ReplaceAll(strings.TrimSpace(n.FailureSummary), "\n", "\n        ")
			fmt.Fprintf(&b, "    - %v  %s\n        %s\n", n.Target, html, summary)
		}
	}
	return b.String()
}
