package web

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/salon/salon/web/i18n"
)

// Where catalog keys are used: templates ({{t "k"}}, {{tn "k" n}}), scripts
// (t('k'), tn('k', n) from lib/i18n.js, imported as tr and trn where t
// names a talk) and Go (l.T("k"), l.N("k", n),
// pageError and renderLogin, whose messages are keys).
var (
	tmplActionRE = regexp.MustCompile(`\{\{[^}]*\}\}`)
	tmplKeyRE    = regexp.MustCompile(`(?:^|[\s(])tn? "([^"]+)"`)
	jsKeyRE      = regexp.MustCompile(`\b(?:t|tn|tr|trn)\(\s*['"]([^'"]+)['"]`)
	jsDynamicRE  = regexp.MustCompile(`\b(?:t|tn|tr|trn)\(\s*[^'"\s)]`)
	goKeyRE      = regexp.MustCompile(`\.(?:T|N)\("([^"]+)"`)
	goPageErrRE  = regexp.MustCompile(`pageError\(w, r, [^,]+, "([^"]+)", "([^"]+)"`)
	goLoginRE    = regexp.MustCompile(`renderLogin\(w, r, [^,]+, "([^"]+)"`)
)

// usedKeys finds every catalog key the pages, scripts and handlers use,
// with where it was seen; dynamic lists keys built at run time in scripts
// (not allowed: the test could not check them).
func usedKeys(t *testing.T) (used map[string]string, dynamic []string) {
	t.Helper()
	used = map[string]string{}
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(p)
		if err != nil {
			return err
		}
		for _, a := range tmplActionRE.FindAllString(string(b), -1) {
			for _, m := range tmplKeyRE.FindAllStringSubmatch(strings.Trim(a, "{}-"), -1) {
				used[m[1]] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(staticFS, "static/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		src := string(b)
		if !strings.Contains(src, "i18n.js'") && !strings.HasSuffix(p, "lib/i18n.js") {
			return nil
		}
		for _, m := range jsKeyRE.FindAllStringSubmatch(src, -1) {
			used[m[1]] = p
		}
		if !strings.HasSuffix(p, "lib/i18n.js") {
			for _, m := range jsDynamicRE.FindAllString(src, -1) {
				dynamic = append(dynamic, p+": "+m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gos, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gos {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{goKeyRE, goPageErrRE, goLoginRE} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				for _, k := range m[1:] {
					used[k] = p
				}
			}
		}
	}
	return used, dynamic
}

// TestPages_CatalogKeys fails when a page, script or handler uses a key a
// language lacks, or a catalog holds a key nothing uses.
func TestPages_CatalogKeys(t *testing.T) {
	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	used, dynamic := usedKeys(t)
	if len(used) < 50 {
		t.Fatalf("found only %d keys in use: is the scanner broken?", len(used))
	}
	for _, d := range dynamic {
		t.Errorf("a message key built at run time (write the key literally): %s", d)
	}
	var keys []string
	for k := range used {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, l := range c.Languages() {
		have := c.Keys(l.Tag)
		for _, k := range keys {
			if !slices.Contains(have, k) {
				t.Errorf("%s uses %q, missing in %s", used[k], k, l.Tag)
			}
		}
		for _, k := range have {
			if _, ok := used[k]; !ok {
				t.Errorf("%s: %q is used nowhere (remove it, or use it)", l.Tag, k)
			}
		}
	}
}

// TestServer_Language: the pages' language from ?lang=, the cookie and
// Accept-Language; hostile values choose the default and are never echoed.
func TestServer_Language(t *testing.T) {
	live, stages := newFakes()
	_, base := startServer(t, live, stages)
	cases := []struct {
		name, path string
		header     map[string]string
		lang       string
		cookie     string // the Set-Cookie value wanted, "" for none
		want       []string
	}{
		{name: "default", path: "/", lang: "en", want: []string{"Live now", `<a href="/?lang=en" hreflang="en" lang="en" aria-current="true">English</a>`}},
		{name: "query", path: "/?lang=zh-CN", lang: "zh-CN", cookie: "zh-CN", want: []string{"正在直播", `hreflang="zh-CN" lang="zh-CN" aria-current="true">简体中文</a>`}},
		{name: "cookie", path: "/live/main", header: map[string]string{"Cookie": "salon_lang=zh-CN"}, lang: "zh-CN", want: []string{"舞台", "人在看"}},
		{name: "accept-language q", path: "/", header: map[string]string{"Accept-Language": "fr;q=1, zh-CN;q=0.8, en;q=0.5"}, lang: "zh-CN"},
		{name: "accept-language en", path: "/", header: map[string]string{"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"}, lang: "en"},
		{name: "script", path: "/?lang=%3Cscript%3Ealert(1)%3C/script%3E", lang: "en"},
		{name: "invalid", path: "/?lang=xx-INVALID", header: map[string]string{"Accept-Language": "zh"}, lang: "zh-CN"},
		{name: "error page", path: "/live/Bad_Name?lang=zh-CN", lang: "zh-CN", cookie: "zh-CN", want: []string{"没有这个舞台", "错误 404"}},
		{name: "login page", path: "/admin?lang=zh-CN", lang: "zh-CN", cookie: "zh-CN", want: []string{"组织者控制台", "管理员令牌"}},
		{name: "not found", path: "/nothing-here", header: map[string]string{"Accept-Language": "zh-CN"}, lang: "zh-CN", want: []string{"页面不存在"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, "GET", base+tc.path, tc.header)
			if !strings.Contains(res.body, `<html lang="`+tc.lang+`">`) {
				t.Errorf("want <html lang=%q>; page starts %.200q", tc.lang, res.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(res.body, "<script>alert") || strings.Contains(res.body, "xx-INVALID") {
				t.Errorf("the page echoes the lang value")
			}
			var got *http.Cookie
			for _, c := range (&http.Response{Header: res.header}).Cookies() {
				if c.Name == i18n.CookieName {
					got = c
				}
			}
			switch {
			case tc.cookie == "" && got != nil:
				t.Errorf("set a cookie %v, want none", got)
			case tc.cookie != "" && got == nil:
				t.Errorf("no %s cookie", i18n.CookieName)
			case got != nil && (got.Value != tc.cookie || got.SameSite != http.SameSiteLaxMode || got.Path != "/"):
				t.Errorf("cookie %v, want %s=%s; Path=/; SameSite=Lax", got, i18n.CookieName, tc.cookie)
			}
		})
	}
	t.Run("browser catalog", func(t *testing.T) {
		res := do(t, "GET", base+"/?lang=zh-CN", nil)
		m := regexp.MustCompile(`<meta name="salon-i18n" content="([^"]+)">`).FindStringSubmatch(res.body)
		if m == nil {
			t.Fatal("no salon-i18n meta")
		}
		cat := do(t, "GET", base+strings.ReplaceAll(m[1], "&amp;", "&"), nil)
		if cat.status != 200 || !strings.HasPrefix(cat.header.Get("Content-Type"), "application/json") ||
			!strings.Contains(cat.body, `"lang":"zh-CN"`) || !strings.Contains(cat.header.Get("Cache-Control"), "immutable") {
			t.Errorf("catalog %s: %d %q %q %.100q", m[1], cat.status, cat.header.Get("Content-Type"), cat.header.Get("Cache-Control"), cat.body)
		}
	})
}
