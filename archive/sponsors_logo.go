package archive

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sniffLogo tells a logo's type from its content: PNG and JPEG by their
// signatures, SVG by parsing it (CheckSVG). Anything else, GIF and WebP
// included, is ErrUnsupportedType.
func sniffLogo(data []byte) (mediaType, ext string, err error) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", ".png", nil
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "image/jpeg", ".jpg", nil
	}
	if looksLikeSVG(data) {
		if err := CheckSVG(data); err != nil {
			return "", "", err
		}
		return "image/svg+xml", ".svg", nil
	}
	return "", "", fmt.Errorf("a logo must be a PNG, JPEG or SVG image: %w", ErrUnsupportedType)
}

// looksLikeSVG: text whose first element is <svg>, after an optional XML
// declaration, comments and whitespace.
func looksLikeSVG(data []byte) bool {
	head := data[:min(len(data), 4096)]
	return bytes.IndexByte(head, 0) < 0 && bytes.Contains(head, []byte("<svg"))
}

// ErrUnsafeSVG is returned (wrapped, with ErrUnsupportedType) for an SVG
// that could run script or load something from elsewhere.
var ErrUnsafeSVG = errors.New("unsafe SVG")

// svgElements are the SVG elements a logo may use: shapes, text, paint
// servers, structure and filters. Not script, foreignObject, a (links),
// animation (animate and set can rewrite an href into javascript:), nor
// anything of HTML.
var svgElements = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`svg g defs symbol use title desc metadata switch
		path rect circle ellipse line polyline polygon text tspan textPath
		linearGradient radialGradient stop pattern clipPath mask marker image style
		filter feBlend feColorMatrix feComponentTransfer feComposite feConvolveMatrix
		feDiffuseLighting feDisplacementMap feDistantLight feDropShadow feFlood feFuncA
		feFuncB feFuncG feFuncR feGaussianBlur feImage feMerge feMergeNode feMorphology
		feOffset fePointLight feSpecularLighting feSpotLight feTile feTurbulence`) {
		m[n] = true
	}
	return m
}()

const (
	svgNS   = "http://www.w3.org/2000/svg"
	xhtmlNS = "http://www.w3.org/1999/xhtml"
	mathNS  = "http://www.w3.org/1998/Math/MathML"
)

// CheckSVG accepts an SVG logo only when it cannot run script or fetch
// anything: no DTD (entities), no processing instructions but the XML
// declaration, SVG elements from svgElements only (elements of editors'
// own namespaces, inert in browsers, are allowed; HTML and MathML are not),
// no on* event attributes, links only to fragments (#id) or embedded
// data:image/png|jpeg, styles without url() to anything but a fragment,
// @import or expression(). Pages show logos with <img>, where SVG script
// never runs anyway, and salon serves them with a sandboxing CSP: this check
// is the third wall, for a bucket served by a plain static host.
func CheckSVG(data []byte) error {
	unsafe := func(format string, args ...any) error {
		return fmt.Errorf("the SVG %s; export it again as plain SVG or upload a PNG: %w: %w",
			fmt.Sprintf(format, args...), ErrUnsafeSVG, ErrUnsupportedType)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	depth, root := 0, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("the SVG does not parse (%v): %w", err, ErrUnsupportedType)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return unsafe("has a DOCTYPE or entity declaration")
		case xml.ProcInst:
			if t.Target != "xml" {
				return unsafe("has a processing instruction <?%s", truncateRunes(t.Target, 20))
			}
		case xml.StartElement:
			if depth == 0 {
				if root || t.Name.Local != "svg" {
					return fmt.Errorf("the file is not one <svg> element: %w", ErrUnsupportedType)
				}
				root = true
			}
			depth++
			ns, local := t.Name.Space, t.Name.Local
			switch {
			case strings.EqualFold(local, "script") || strings.EqualFold(local, "foreignObject"):
				return unsafe("has a <%s> element", local)
			case ns == xhtmlNS || ns == mathNS:
				return unsafe("embeds HTML or MathML (<%s>)", local)
			case ns == "" || ns == svgNS:
				if !svgElements[local] {
					return unsafe("has a <%s> element, which logos do not need", truncateRunes(local, 30))
				}
			}
			for _, a := range t.Attr {
				if err := checkSVGAttr(a); err != nil {
					return unsafe("%s", err.Error())
				}
			}
			if local == "style" && (ns == "" || ns == svgNS) {
				var css string
				if err := dec.DecodeElement(&css, &t); err != nil {
					return fmt.Errorf("the SVG's <style> does not parse (%v): %w", err, ErrUnsupportedType)
				}
				depth--
				if err := checkCSS(css); err != nil {
					return unsafe("%s in <style>", err.Error())
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	if !root {
		return fmt.Errorf("the file has no <svg> element: %w", ErrUnsupportedType)
	}
	return nil
}

func checkSVGAttr(a xml.Attr) error {
	name := strings.ToLower(a.Name.Local)
	v := strings.TrimSpace(a.Value)
	switch {
	case strings.HasPrefix(name, "on"):
		return fmt.Errorf("has an event handler (%s)", truncateRunes(a.Name.Local, 30))
	case name == "href" || name == "src":
		if !safeRef(v) {
			return fmt.Errorf("links to %q (only #fragments and embedded PNG or JPEG images are kept)", truncateRunes(v, 40))
		}
	case name == "style":
		return checkCSS(v)
	}
	// Presentation attributes (fill, filter, mask, clip-path…) may hold url().
	if strings.Contains(strings.ToLower(v), "url(") {
		return checkCSS(v)
	}
	return nil
}

// safeRef: a reference inside the document, or an embedded raster image.
func safeRef(v string) bool {
	l := strings.ToLower(v)
	return strings.HasPrefix(v, "#") ||
		strings.HasPrefix(l, "data:image/png;base64,") || strings.HasPrefix(l, "data:image/jpeg;base64,")
}

// checkCSS refuses CSS that loads anything or runs script: every url() must
// point at a fragment; no @import, expression(), javascript: or escapes
// (which could hide any of them).
func checkCSS(css string) error {
	l := strings.ToLower(css)
	for _, bad := range []string{"@import", "expression(", "javascript:", "\\", "behavior:", "-moz-binding"} {
		if strings.Contains(l, bad) {
			return fmt.Errorf("has CSS with %q", bad)
		}
	}
	for rest := l; ; {
		i := strings.Index(rest, "url(")
		if i < 0 {
			return nil
		}
		rest = strings.TrimLeft(rest[i+4:], " \t\r\n'\"")
		if !strings.HasPrefix(rest, "#") {
			return fmt.Errorf("has CSS that loads a url()")
		}
	}
}
