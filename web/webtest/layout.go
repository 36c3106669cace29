package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Viewport is a screen a page is checked at.
type Viewport struct {
	Name          string // "laptop", "wide", "phone": used in test and file names
	Width, Height int64
	Mobile        bool // a phone: touch, mobile viewport, device scale 3
}

// Viewports are the screens every page is checked at (issue 12): a 1366×768
// laptop, a 1920×1080 screen and a phone in portrait (390×844).
var Viewports = []Viewport{
	{Name: "laptop", Width: 1366, Height: 768},
	{Name: "wide", Width: 1920, Height: 1080},
	{Name: "phone", Width: 390, Height: 844, Mobile: true},
}

// Emulate sets the tab to the viewport.
func (v Viewport) Emulate() chromedp.Action[chromedp.Void] {
	if v.Mobile {
		return chromedp.EmulateViewport(v.Width, v.Height, chromedp.EmulateMobile, chromedp.EmulateScale(3), chromedp.EmulatePortrait)
	}
	return chromedp.EmulateViewport(v.Width, v.Height)
}

// Box is an element's border box in CSS pixels relative to the viewport
// (getBoundingClientRect).
type Box struct {
	Top, Left, Bottom, Right, Width, Height float64
	Found                                   bool
}

func (b Box) String() string {
	if !b.Found {
		return "(missing)"
	}
	return fmt.Sprintf("%.0fx%.0f at (%.0f,%.0f)", b.Width, b.Height, b.Left, b.Top)
}

// Within reports whether the box is non-empty and wholly inside the
// viewport (to a pixel).
func (b Box) Within(v Viewport) bool {
	return b.Found && b.Width > 0 && b.Height > 0 &&
		b.Top >= -1 && b.Left >= -1 && b.Bottom <= float64(v.Height)+1 && b.Right <= float64(v.Width)+1
}

// Boxes measures the first element matching each selector.
func Boxes(ctx context.Context, selectors ...string) (map[string]Box, error) {
	sel, _ := json.Marshal(selectors)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`(`+string(sel)+`).map(s => {
		const e = document.querySelector(s);
		if (!e) return {Found: false};
		const r = e.getBoundingClientRect();
		return {Found: true, Top: r.top, Left: r.left, Bottom: r.bottom, Right: r.right, Width: r.width, Height: r.height};
	})`))
	if err != nil {
		return nil, fmt.Errorf("measure %v: %w", selectors, err)
	}
	var list []Box
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	m := make(map[string]Box, len(selectors))
	for i, s := range selectors {
		m[s] = list[i]
	}
	return m, nil
}

// HorizontalOverflow is how many CSS pixels the page is wider than the
// viewport (0 when nothing sticks out sideways).
func HorizontalOverflow(ctx context.Context) (float64, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)`))
}

// ScreenshotDir is the directory the browser tests save screenshots into,
// for people to look at the pages by eye: $SALON_SCREENSHOTS, created when
// missing; "" when it is not set (then tests take no screenshots).
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SALON_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshots: %v (check SALON_SCREENSHOTS)", err)
	}
	return dir
}

// Screenshot saves the viewport as name.png in ScreenshotDir, when set.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := ScreenshotDir(t)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	name = strings.NewReplacer("/", "_", " ", "_").Replace(name)
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot in %s", p)
}
