package archive

import (
	"errors"
	"io"
	"strings"
	"testing"
)

const okSVG = `<?xml version="1.0" encoding="UTF-8"?>
<!-- made by hand -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" viewBox="0 0 100 40">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/></linearGradient></defs>
  <style>.a { fill: url(#g); }</style>
  <inkscape:thing inkscape:x="1"/>
  <rect class="a" width="100" height="40" fill="url(#g)"/>
  <use xlink:href="#g"/>
  <text x="5" y="25">赞助商</text>
</svg>`

func TestCheckSVG(t *testing.T) {
	bad := map[string]string{
		"script":          `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
		"script ns":       `<svg xmlns="http://www.w3.org/2000/svg"><x:script xmlns:x="urn:x">alert(1)</x:script></svg>`,
		"onload":          `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`,
		"ONLOAD":          `<svg xmlns="http://www.w3.org/2000/svg" ONLOAD="alert(1)"/>`,
		"foreignObject":   `<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div/></foreignObject></svg>`,
		"html":            `<svg xmlns="http://www.w3.org/2000/svg"><h:img xmlns:h="http://www.w3.org/1999/xhtml" src="x"/></svg>`,
		"javascript href": `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="javascript:alert(1)"><rect/></a></svg>`,
		"external use":    `<svg xmlns="http://www.w3.org/2000/svg"><use href="https://evil.example/x.svg#a"/></svg>`,
		"external image":  `<svg xmlns="http://www.w3.org/2000/svg"><image href="http://evil.example/track.png"/></svg>`,
		"svg in data":     `<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/svg+xml;base64,PHN2Zz4="/></svg>`,
		"animate":         `<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="href" to="javascript:alert(1)"/></svg>`,
		"doctype":         `<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>`,
		"stylesheet pi":   `<?xml-stylesheet href="http://evil.example/a.css"?><svg xmlns="http://www.w3.org/2000/svg"/>`,
		"css import":      `<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(http://evil.example/a.css);</style></svg>`,
		"css url":         `<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill: url( 'http://evil.example/x')"/></svg>`,
		"css escape":      `<svg xmlns="http://www.w3.org/2000/svg"><style>.a{fill:u\72l(http://x)}</style></svg>`,
		"attr url":        `<svg xmlns="http://www.w3.org/2000/svg"><rect filter="url(http://evil.example/f.svg#f)"/></svg>`,
		"two roots":       `<svg xmlns="http://www.w3.org/2000/svg"/><svg xmlns="http://www.w3.org/2000/svg"/>`,
		"not svg root":    `<html><svg/></html>`,
		"broken":          `<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>`,
	}
	for name, doc := range bad {
		t.Run(name, func(t *testing.T) {
			if err := CheckSVG([]byte(doc)); !errors.Is(err, ErrUnsupportedType) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
	if err := CheckSVG([]byte(okSVG)); err != nil {
		t.Fatalf("a plain logo refused: %v", err)
	}
}

func FuzzCheckSVG(f *testing.F) {
	f.Add([]byte(okSVG))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="x"/>`))
	f.Add([]byte(`<svg><style>a{b:url(#c)}</style></svg>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if CheckSVG(data) != nil {
			return
		}
		// Whatever is accepted has none of the obvious ways to run script.
		l := strings.ToLower(string(data))
		for _, bad := range []string{"<script", "javascript:", "<!doctype", "<!entity", "@import"} {
			if strings.Contains(l, bad) {
				t.Fatalf("accepted an SVG with %q: %q", bad, data)
			}
		}
	})
}

func TestSponsors_AddListDelete(t *testing.T) {
	s := libStore(t)
	ctx := t.Context()
	sp := &Sponsors{Store: s, MaxSize: 4096}
	if err := sp.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("x", 100)
	a, err := sp.Add(ctx, "  Acme 云计算 ", strings.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != "image/png" || a.Name != "Acme 云计算" || !strings.HasPrefix(a.ID, "acme-") || !strings.HasSuffix(a.ID, ".png") || !validSponsorID(a.ID) {
		t.Fatalf("added %+v", a)
	}
	b, err := sp.Add(ctx, "清华", strings.NewReader(okSVG))
	if err != nil || b.Type != "image/svg+xml" || !validSponsorID(b.ID) {
		t.Fatalf("svg: %+v %v", b, err)
	}

	before := snapshot(t, s)
	refusals := []struct {
		name, file string
		want       error
	}{
		{"", png, ErrInvalid},
		{"x\x00y", png, ErrInvalid},
		{strings.Repeat("长", MaxSponsorName+1), png, ErrInvalid},
		{"Big", "\x89PNG\r\n\x1a\n" + strings.Repeat("x", 5000), ErrTooLarge},
		{"Empty", "", ErrInvalid},
		{"GIF", "GIF89a....", ErrUnsupportedType},
		{"Evil", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, ErrUnsafeSVG},
		{"HTML", `<html><script>alert(1)</script></html>`, ErrUnsupportedType},
	}
	for _, tc := range refusals {
		if _, err := sp.Add(ctx, tc.name, strings.NewReader(tc.file)); !errors.Is(err, tc.want) {
			t.Errorf("Add(%q): %v, want %v", tc.name, err, tc.want)
		}
	}
	if ch := changedKeys(before, snapshot(t, s)); len(ch) != 0 {
		t.Fatalf("refusals changed %v", ch)
	}

	// A fresh Sponsors on the same bucket has the same list.
	again := &Sponsors{Store: s}
	if err := again.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	if l := again.List(); len(l) != 2 || l[0].ID != a.ID || l[1].ID != b.ID {
		t.Fatalf("reloaded %+v", l)
	}
	rc, got, err := again.Open(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != png || got.ID != a.ID {
		t.Fatal("logo bytes differ")
	}
	if err := sp.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := sp.Delete(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, ok := snapshot(t, s)[SponsorKey(a.ID)]; ok {
		t.Fatal("logo still stored")
	}
	if l := sp.List(); len(l) != 1 || l[0].ID != b.ID {
		t.Fatalf("after delete %+v", l)
	}
}

func TestSponsors_BadIndex(t *testing.T) {
	for name, idx := range map[string]string{
		"not json":  `{`,
		"bad id":    `{"version":1,"sponsors":[{"id":"../talks/x/talk.json","name":"x","type":"image/png"}]}`,
		"bad type":  `{"version":1,"sponsors":[{"id":"a.png","name":"x","type":"text/html"}]}`,
		"no name":   `{"version":1,"sponsors":[{"id":"a.svg","name":"","type":"image/svg+xml"}]}`,
		"extension": `{"version":1,"sponsors":[{"id":"a.html","name":"x","type":"image/png"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := libStore(t)
			if err := putBytes(t.Context(), s, SponsorIndexKey, []byte(idx)); err != nil {
				t.Fatal(err)
			}
			sp := &Sponsors{Store: s}
			if err := sp.Initialize(t.Context()); err != nil {
				t.Fatal(err)
			}
			if l := sp.List(); len(l) != 0 {
				t.Fatalf("loaded %+v", l)
			}
		})
	}
}

func FuzzParseSponsorIndex(f *testing.F) {
	f.Add([]byte(`{"version":1,"sponsors":[{"id":"acme-1a2b3c4d.png","name":"Acme","type":"image/png","size":10}]}`))
	f.Add([]byte(`{"version":1,"sponsors":[{"id":"../x.png","name":"x","type":"image/png"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := parseSponsorIndex(data)
		if err != nil {
			return
		}
		for _, sp := range list {
			if !validSponsorID(sp.ID) || strings.Contains(sp.ID, "/") || sp.Type != logoTypeOfExt(sp.ID) {
				t.Fatalf("accepted %+v", sp)
			}
			if err := ValidKey(SponsorKey(sp.ID)); err != nil {
				t.Fatalf("accepted an id that is no key: %q: %v", sp.ID, err)
			}
		}
	})
}
