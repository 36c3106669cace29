// Package i18n is salon's message catalog: the words every page, message and
// error shown to a person uses, in each language salon speaks, from one source
// (active.LANG.toml, embedded) for the Go templates and the browser.
// Messages are go-i18n messages: plural forms follow CLDR (go-i18n's rules on
// the server, Intl.PluralRules in the browser), and a message's variables are
// {{.Name}} placeholders only, so the browser fills them the same way.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed active.*.toml
var catalogFS embed.FS

// Default is the language of a request that asks for none salon speaks.
const Default = "en"

// Language is one language salon speaks.
type Language struct {
	// Tag is the BCP 47 tag used in ?lang=, the cookie, <html lang> and the
	// catalog's file name: "en", "zh-CN".
	Tag string
	// Intl is the locale dates and numbers are formatted in (en: British
	// conventions, 24-hour clock and day before month, as salon always had).
	Intl string
	// Name is the language's name in itself, for the switcher.
	Name string
}

// languages is the list salon speaks, the default first.
func languages() []Language {
	return []Language{
		{Tag: "en", Intl: "en-GB", Name: "English"},
		{Tag: "zh-CN", Intl: "zh-CN", Name: "简体中文"},
	}
}

// placeholder is the only template syntax a message may use.
var placeholderRE = regexp.MustCompile(`\{\{\s*\.([A-Za-z][A-Za-z0-9]*)\s*\}\}`)

// Catalog holds the messages of every language. It is read-only after New.
type Catalog struct {
	bundle  *goi18n.Bundle
	langs   []Language
	matcher language.Matcher
	msgs    map[string]map[string]*goi18n.Message // lang → id → message
	locs    map[string]*Localizer
	json    map[string][]byte
}

// New loads the embedded catalogs. Every language must have a file.
func New() (*Catalog, error) {
	c := &Catalog{
		bundle: goi18n.NewBundle(language.English),
		langs:  languages(),
		msgs:   map[string]map[string]*goi18n.Message{},
		locs:   map[string]*Localizer{},
		json:   map[string][]byte{},
	}
	unmarshal := map[string]goi18n.UnmarshalFunc{"toml": toml.Unmarshal}
	var tags []language.Tag
	for _, l := range c.langs {
		tags = append(tags, language.MustParse(l.Tag))
		name := "active." + l.Tag + ".toml"
		buf, err := catalogFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", name, err)
		}
		f, err := goi18n.ParseMessageFileBytes(buf, name, unmarshal)
		if err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", name, err)
		}
		byID := map[string]*goi18n.Message{}
		for _, m := range f.Messages {
			if err := checkMessage(m); err != nil {
				return nil, fmt.Errorf("i18n: catalog %s: message %q: %w", name, m.ID, err)
			}
			byID[m.ID] = m
		}
		if err := c.bundle.AddMessages(language.MustParse(l.Tag), f.Messages...); err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", name, err)
		}
		c.msgs[l.Tag] = byID
	}
	c.matcher = language.NewMatcher(tags)
	for _, l := range c.langs {
		c.locs[l.Tag] = &Localizer{lang: l, loc: goi18n.NewLocalizer(c.bundle, l.Tag)}
		b, err := c.browserJSON(l)
		if err != nil {
			return nil, err
		}
		c.json[l.Tag] = b
	}
	return c, nil
}

// checkMessage refuses template syntax other than {{.Name}}: the browser
// fills placeholders itself and must mean the same thing.
func checkMessage(m *goi18n.Message) error {
	for _, s := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
		rest := placeholderRE.ReplaceAllString(s, "")
		if regexp.MustCompile(`\{\{|\}\}`).MatchString(rest) {
			return fmt.Errorf("only {{.Name}} placeholders are allowed: %q", s)
		}
	}
	if m.Other == "" {
		return fmt.Errorf("no text (the \"other\" form is required)")
	}
	return nil
}

// Languages lists the languages salon speaks, the default first.
func (c *Catalog) Languages() []Language { return append([]Language(nil), c.langs...) }

// Localizer is the catalog in one language, nil-safe for an unknown tag
// (the default language then).
func (c *Catalog) Localizer(tag string) *Localizer {
	if l, ok := c.locs[tag]; ok {
		return l
	}
	return c.locs[Default]
}

// Keys lists the message ids of a language, sorted.
func (c *Catalog) Keys(tag string) []string {
	keys := make([]string, 0, len(c.msgs[tag]))
	for k := range c.msgs[tag] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Placeholders lists the placeholder names of a message in a language,
// sorted and without repeats (the catalogs' test compares languages).
func (c *Catalog) Placeholders(tag, id string) []string {
	m := c.msgs[tag][id]
	if m == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, s := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
		for _, p := range placeholderRE.FindAllStringSubmatch(s, -1) {
			seen[p[1]] = true
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// JSON is the catalog of one language for the browser (lib/i18n.js):
// {"lang","intl","messages":{id: text | {one,other,…}}}.
func (c *Catalog) JSON(tag string) []byte {
	if b, ok := c.json[tag]; ok {
		return b
	}
	return c.json[Default]
}

func (c *Catalog) browserJSON(l Language) ([]byte, error) {
	msgs := map[string]any{}
	for id, m := range c.msgs[l.Tag] {
		forms := map[string]string{}
		for form, s := range map[string]string{"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many} {
			if s != "" {
				forms[form] = s
			}
		}
		if len(forms) == 0 {
			msgs[id] = m.Other
			continue
		}
		forms["other"] = m.Other
		msgs[id] = forms
	}
	b, err := json.Marshal(map[string]any{"lang": l.Tag, "intl": l.Intl, "messages": msgs})
	if err != nil {
		return nil, fmt.Errorf("i18n: encode the %s catalog for the browser: %w", l.Tag, err)
	}
	return b, nil
}
