package i18n

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func newCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCatalog_Keys: every language has the same keys with the same
// placeholders. (Which keys the pages use is web's TestPages_CatalogKeys.)
func TestCatalog_Keys(t *testing.T) {
	c := newCatalog(t)
	en := c.Keys("en")
	if len(en) == 0 {
		t.Fatal("the English catalog is empty")
	}
	for _, l := range c.Languages()[1:] {
		other := c.Keys(l.Tag)
		for _, k := range en {
			if !slices.Contains(other, k) {
				t.Errorf("%s lacks %q", l.Tag, k)
			} else if a, b := c.Placeholders("en", k), c.Placeholders(l.Tag, k); !slices.Equal(a, b) {
				t.Errorf("%q: placeholders en %v, %s %v", k, a, l.Tag, b)
			}
		}
		for _, k := range other {
			if !slices.Contains(en, k) {
				t.Errorf("%s has %q, which English lacks", l.Tag, k)
			}
		}
	}
}

func TestLocalizer_T(t *testing.T) {
	c := newCatalog(t)
	cases := []struct {
		lang, got, want string
	}{
		{"en", c.Localizer("en").T("error.status", "Status", 404), "Error 404"},
		{"zh-CN", c.Localizer("zh-CN").T("error.status", "Status", 404), "错误 404"},
		{"en one", c.Localizer("en").N("stage.watching", 1), "1 watching"},
		{"en other", c.Localizer("en").N("stage.watching", 0), "0 watching"},
		{"zh-CN", c.Localizer("zh-CN").N("stage.watching", 1), "1 人在看"},
		{"unknown language is English", c.Localizer("xx").T("badge.live"), "Live"},
		{"missing key shows itself", c.Localizer("en").T("no.such.key"), "no.such.key"},
		// A placeholder value is text, never template code.
		{"value not evaluated", c.Localizer("en").T("error.status", "Status", "{{.Status}}"), "Error {{.Status}}"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.lang, tc.got, tc.want)
		}
	}
}

func TestLocalizer_Date(t *testing.T) {
	c := newCatalog(t)
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	at := time.Date(2026, 12, 2, 6, 5, 0, 0, time.UTC) // 14:05 in Shanghai
	cases := []struct {
		lang  string
		style DateStyle
		want  string
	}{
		{"en", Time, "14:05"},
		{"en", Day, "Wed, 2 Dec 2026"},
		{"en", DayTime, "Wed 2 Dec, 14:05"},
		{"en", LongDay, "Wednesday, 2 December 2026"},
		{"en", DayShort, "Wed 2 Dec"},
		{"zh-CN", DayShort, "12月2日周三"},
		{"zh-CN", Time, "14:05"},
		{"zh-CN", Day, "2026年12月2日周三"},
		{"zh-CN", DayTime, "12月2日周三 14:05"},
		{"zh-CN", LongDay, "2026年12月2日星期三"},
	}
	for _, tc := range cases {
		if got := c.Localizer(tc.lang).Date(at, sh, tc.style); got != tc.want {
			t.Errorf("%s style %d: %q, want %q", tc.lang, tc.style, got, tc.want)
		}
	}
	if got := c.Localizer("en").Date(time.Time{}, sh, DayTime); got != "" {
		t.Errorf("zero time: %q", got)
	}
}

func TestCatalog_JSON(t *testing.T) {
	c := newCatalog(t)
	var got struct {
		Lang     string         `json:"lang"`
		Intl     string         `json:"intl"`
		Messages map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(c.JSON("zh-CN"), &got); err != nil {
		t.Fatal(err)
	}
	if got.Lang != "zh-CN" || got.Intl != "zh-CN" || got.Messages["badge.live"] != "直播中" {
		t.Errorf("zh-CN catalog: lang %q intl %q badge.live %v", got.Lang, got.Intl, got.Messages["badge.live"])
	}
	if err := json.Unmarshal(c.JSON("en"), &got); err != nil {
		t.Fatal(err)
	}
	forms, ok := got.Messages["stage.watching"].(map[string]any)
	if !ok || forms["one"] != "{{.Count}} watching" || forms["other"] == nil {
		t.Errorf("en plural message: %v", got.Messages["stage.watching"])
	}
	if len(got.Messages) != len(c.Keys("en")) {
		t.Errorf("%d messages for the browser, %d in the catalog", len(got.Messages), len(c.Keys("en")))
	}
}

// TestCatalog_Chinese: a zh-CN message that reads the same as the English
// one is an untranslated copy, unless it is a name or a code.
func TestCatalog_Chinese(t *testing.T) {
	c := newCatalog(t)
	same := map[string]bool{} // keys whose text is the same in both languages
	for _, k := range c.Keys("zh-CN") {
		zh := c.msgs["zh-CN"][k].Other
		if zh == c.msgs["en"][k].Other && !same[k] && strings.ContainsFunc(zh, func(r rune) bool { return r >= 'a' && r <= 'z' }) {
			t.Errorf("%q is not translated: %q", k, zh)
		}
	}
}
