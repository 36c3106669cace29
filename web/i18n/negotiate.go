package i18n

import (
	"golang.org/x/text/language"
)

// CookieName remembers a language chosen with ?lang=.
const CookieName = "salon_lang"

// maxTagLen bounds what is parsed as a language tag (BCP 47 tags that
// matter are far shorter; ParseAcceptLanguage has its own bound below).
const maxTagLen = 35

// Negotiate picks the language of a request: ?lang= (query), then the
// cookie, then Accept-Language (q-values honoured), then Default. A value
// that is not a language salon speaks is ignored, never echoed. remember
// is true when query chose it (the caller sets the cookie).
func (c *Catalog) Negotiate(query, cookie, acceptLanguage string) (tag string, remember bool) {
	if l, ok := c.Match(query); ok {
		return l, true
	}
	if l, ok := c.Match(cookie); ok {
		return l, false
	}
	if acceptLanguage != "" && len(acceptLanguage) <= 1024 {
		if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
			if _, i, conf := c.matcher.Match(tags...); conf != language.No {
				return c.langs[i].Tag, false
			}
		}
	}
	return Default, false
}

// Match is the language salon speaks that s names closely ("zh",
// "zh-Hans", "zh-cn" → "zh-CN"; "en-US" → "en"), or false.
func (c *Catalog) Match(s string) (string, bool) {
	if s == "" || len(s) > maxTagLen {
		return "", false
	}
	t, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	_, i, conf := c.matcher.Match(t)
	if conf < language.High {
		return "", false
	}
	return c.langs[i].Tag, true
}
