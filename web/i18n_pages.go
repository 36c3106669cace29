package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/i18n"
)

// The pages speak every language of the catalog (web/i18n): one parsed
// template set per language, whose t/tn/when functions are bound to it, so a
// template writes {{t "home.title"}} and {{tn "stage.watching" .Viewers}}.
// The browser gets the same catalog as /static/i18n/{lang}.json (made from
// the catalog at start, cached like any asset) through js/lib/i18n.js.

// pageLang is what a page needs of its language: <html lang>, the switcher,
// the catalog for its scripts and the event's zone for browser-made times.
type pageLang struct {
	Lang     string // "en", "zh-CN"
	Zone     string // the event's IANA zone, "" when the machine's has no name
	Catalog  string // the browser catalog's URL
	Switcher []langLink
}

// langLink is one entry of the language switcher.
type langLink struct {
	Tag     string
	Name    string
	URL     string
	Current bool
}

// i18nAsset is the browser catalog's path below /static/.
func i18nAsset(tag string) string { return "i18n/" + tag + ".json" }

// parsePagesByLang parses the templates once per language of c and adds the
// browser catalogs to a.
func parsePagesByLang(a *assets, c *i18n.Catalog, zone *eventZone) (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, l := range c.Languages() {
		a.add(i18nAsset(l.Tag), c.JSON(l.Tag))
		t, err := parsePages(a, langFuncs(c.Localizer(l.Tag), zone))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Tag, err)
		}
		out[l.Tag] = t
	}
	return out, nil
}

// langFuncs are the template functions bound to one language.
func langFuncs(l *i18n.Localizer, zone *eventZone) template.FuncMap {
	loc := func() *time.Location {
		if zone == nil {
			return time.UTC
		}
		return zone.location()
	}
	return template.FuncMap{
		"t":  l.T,
		"tn": func(id string, n any, kv ...any) string { return l.N(id, toInt(n), kv...) },
		// when: a talk's day and time in the event's zone, "" for none.
		"when":       func(t time.Time) string { return l.Date(t, loc(), i18n.DayTime) },
		"clock":      func(t time.Time) string { return l.Date(t, loc(), i18n.Time) },
		"duration":   func(secs float64) string { return formatDuration(l, secs) },
		"speakers":   func(sp []archive.Speaker) string { return speakerNames(sp, l.T("list.sep")) },
		"bytes":      func(n int64) string { return formatBytes(l, n) },
		"trackLine":  func(tracks []stream.TrackInfo) string { return trackLine(l, tracks) },
		"slideLabel": func(mediaType string) string { return slideLabel(l, mediaType) },
		"warning":    func(w stream.Warning) string { return warningText(l, w) },
	}
}

func toInt(n any) int {
	switch v := n.(type) {
	case int:
		return v
	case int64:
		return int(v)
	case int32:
		return int(v)
	case uint64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}

// negotiate is a request's language: ?lang=, the cookie, Accept-Language.
func (s *renderer) negotiate(r *http.Request) (tag string, remember bool, cookie string) {
	if r == nil {
		return i18n.Default, false, ""
	}
	if c, err := r.Cookie(i18n.CookieName); err == nil {
		cookie = c.Value
	}
	tag, remember = s.catalog.Negotiate(r.URL.Query().Get("lang"), cookie, r.Header.Get("Accept-Language"))
	return tag, remember, cookie
}

// lang negotiates a page's language and remembers a ?lang= choice in a
// cookie (SameSite=Lax: a link from another site keeps the language).
func (s *renderer) lang(w http.ResponseWriter, r *http.Request) string {
	tag, remember, cookie := s.negotiate(r)
	if remember && tag != cookie {
		http.SetCookie(w, &http.Cookie{Name: i18n.CookieName, Value: tag, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)})
	}
	return tag
}

func (s *renderer) secure(r *http.Request) bool {
	return s.tls || r.TLS != nil || len(s.publicURL) > 8 && s.publicURL[:8] == "https://"
}

// tr is the request's language's messages, for handlers that write text
// outside a template (titles, error pages, the login form).
func (s *renderer) tr(r *http.Request) *i18n.Localizer {
	tag, _, _ := s.negotiate(r)
	return s.catalog.Localizer(tag)
}

// pageLang fills the page's language: the switcher links keep the page's
// address and its other query parameters, except a speaker's token, which
// the page never repeats (js/lib/i18n.js adds it back in the browser).
func (s *renderer) pageLang(r *http.Request, tag string) pageLang {
	pl := pageLang{Lang: tag, Catalog: s.assets.url(i18nAsset(tag))}
	if s.zone != nil {
		pl.Zone = s.zone.zoneName()
	}
	for _, l := range s.catalog.Languages() {
		link := langLink{Tag: l.Tag, Name: l.Name, Current: l.Tag == tag}
		u := url.URL{Path: "/"}
		if r != nil {
			u.Path = r.URL.Path
			q := r.URL.Query()
			q.Del("token")
			q.Set("lang", l.Tag)
			u.RawQuery = q.Encode()
		} else {
			u.RawQuery = "lang=" + url.QueryEscape(l.Tag)
		}
		link.URL = u.String()
		pl.Switcher = append(pl.Switcher, link)
	}
	return pl
}
