package captions

import (
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

func nameOf(t language.Tag, fallback string) string {
	if n := display.Self.Name(t); n != "" {
		return n
	}
	return fallback
}
