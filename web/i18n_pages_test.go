package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
	for code, w := range warningCalls(t) {
		used["warning."+code] = w.where
	}
	used["warning.rendition"] = "stage_warnings.go"
	return used, dynamic
}

// warningCall is where a stage warning code is made, and the names of its
// parameters.
type warningCall struct {
	where  string
	params []string
}

// warningCalls finds every stage warning the packages below web make: the
// calls stream.Warn("code", "Name", value, …) in the module's Go files
// (tests left out), read with go/parser. A code or a parameter name that
// is not a literal string fails the test: it could not be checked.
func warningCalls(t *testing.T) map[string]warningCall {
	t.Helper()
	out := map[string]warningCall{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "node_modules" || n == "testdata" || strings.HasPrefix(n, ".") && n != ".." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !isWarnCall(call.Fun, f.Name.Name) {
				return true
			}
			pos := fset.Position(call.Pos()).String()
			lits := make([]string, 0, len(call.Args))
			for i, a := range call.Args {
				if i%2 == 1 || i == 0 {
					lit, ok := a.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s: a warning's code and parameter names must be literal strings", pos)
						return true
					}
					v, _ := strconv.Unquote(lit.Value)
					lits = append(lits, v)
				}
			}
			if len(lits) == 0 {
				return true
			}
			w := out[lits[0]]
			if w.where != "" && !slices.Equal(w.params, lits[1:]) {
				t.Errorf("%s: warning %s made with parameters %q, at %s with %q", pos, lits[0], lits[1:], w.where, w.params)
			}
			out[lits[0]] = warningCall{where: pos, params: lits[1:]}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// isWarnCall: stream.Warn, or Warn inside package stream.
func isWarnCall(fun ast.Expr, pkg string) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		x, ok := f.X.(*ast.Ident)
		return ok && x.Name == "stream" && f.Sel.Name == "Warn"
	case *ast.Ident:
		return pkg == "stream" && f.Name == "Warn"
	}
	return false
}

// TestPages_WarningCodes: every stage warning the packages below web make
// (hls, archive, transcode, the registry) has its message in every
// language, with exactly the parameters the code is made with.
func TestPages_WarningCodes(t *testing.T) {
	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	calls := warningCalls(t)
	if len(calls) < 10 {
		t.Fatalf("found only %d warning codes: is the scanner broken?", len(calls))
	}
	for code, w := range calls {
		key := "warning." + code
		want := slices.Sorted(slices.Values(w.params))
		for _, l := range c.Languages() {
			if !slices.Contains(c.Keys(l.Tag), key) {
				t.Errorf("%s: warning %s has no message %q in %s", w.where, code, key, l.Tag)
				continue
			}
			if got := slices.Sorted(slices.Values(c.Placeholders(l.Tag, key))); !slices.Equal(got, want) {
				t.Errorf("%s: warning %s is made with %q, its %s message has %q", w.where, code, want, l.Tag, got)
			}
		}
	}
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
