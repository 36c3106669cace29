package webtest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Keys that tests press, as chromedp's key events expect them.
const (
	KeyTab   = kb.Tab
	KeyEnter = kb.Enter
	KeySpace = " "
	KeyLeft  = kb.ArrowLeft
	KeyRight = kb.ArrowRight
	KeyUp    = kb.ArrowUp
	KeyDown  = kb.ArrowDown
	KeyEnd   = kb.End
	KeyHome  = kb.Home
)

// Press sends key presses to the focused element, as a keyboard does (no
// mouse, no DOM calls).
func Press(ctx context.Context, keys string, opts ...chromedp.KeyOption) error {
	return chromedp.Do(ctx, chromedp.KeyEvent(keys, opts...))
}

// Type types text into the focused element, key by key.
func Type(ctx context.Context, text string) error {
	return chromedp.Do(ctx, chromedp.KeyEvent(text))
}

// Focused describes the focused element: its id, else its tag and classes.
func Focused(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.activeElement;
		if (!e || e === document.body) return 'body';
		return e.id ? '#' + e.id : e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : ''); })()`))
}

// TabTo presses Tab (or Shift+Tab when back is set) until the focused
// element matches the CSS selector, at most max times, and says which
// elements the focus visited when it never gets there.
func TabTo(ctx context.Context, selector string, max int, back bool) error {
	sel, _ := json.Marshal(selector)
	var seen []string
	for i := 0; i < max; i++ {
		var opts []chromedp.KeyOption
		if back {
			opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
		}
		if err := Press(ctx, KeyTab, opts...); err != nil {
			return err
		}
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.activeElement && document.activeElement.matches(`+string(sel)+`)`))
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		f, _ := Focused(ctx)
		seen = append(seen, f)
	}
	return fmt.Errorf("%d Tab presses never focused %s; focus went %v", max, selector, seen)
}
