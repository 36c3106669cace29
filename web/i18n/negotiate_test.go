package i18n

import "testing"

func TestCatalog_Negotiate(t *testing.T) {
	c := newCatalog(t)
	cases := []struct {
		name, query, cookie, accept string
		want                        string
		remember                    bool
	}{
		{name: "nothing", want: "en"},
		{name: "query", query: "zh-CN", want: "zh-CN", remember: true},
		{name: "query lower case", query: "zh-cn", want: "zh-CN", remember: true},
		{name: "query zh", query: "zh", want: "zh-CN", remember: true},
		{name: "query zh-Hans", query: "zh-Hans", want: "zh-CN", remember: true},
		{name: "query en-US", query: "en-US", want: "en", remember: true},
		{name: "query beats cookie", query: "en", cookie: "zh-CN", want: "en", remember: true},
		{name: "cookie", cookie: "zh-CN", accept: "en", want: "zh-CN"},
		{name: "cookie beats Accept-Language", cookie: "en", accept: "zh-CN", want: "en"},
		{name: "Accept-Language", accept: "zh-CN,zh;q=0.9,en;q=0.8", want: "zh-CN"},
		{name: "q-values order", accept: "en;q=0.3, zh;q=0.9", want: "zh-CN"},
		{name: "first supported by q", accept: "fr;q=1, de;q=0.9, zh-CN;q=0.8, en;q=0.5", want: "zh-CN"},
		{name: "q=0 refuses", accept: "zh-CN;q=0, en;q=0.1", want: "en"},
		{name: "unsupported only", accept: "fr-FR, de", want: "en"},
		{name: "script query", query: "<script>alert(1)</script>", want: "en"},
		{name: "invalid query", query: "xx-INVALID", want: "en"},
		{name: "unknown language query", query: "xx", want: "en"},
		{name: "bad query falls to cookie", query: "xx-INVALID", cookie: "zh-CN", want: "zh-CN"},
		{name: "bad cookie", cookie: "\"><b>", accept: "zh", want: "zh-CN"},
		{name: "long query", query: "zh-CN-" + string(make([]byte, 100)), want: "en"},
		{name: "garbage Accept-Language", accept: ";;;q=x,,<script>", want: "en"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, remember := c.Negotiate(tc.query, tc.cookie, tc.accept)
			if got != tc.want || remember != tc.remember {
				t.Errorf("Negotiate(%q, %q, %q) = %q, %v; want %q, %v", tc.query, tc.cookie, tc.accept, got, remember, tc.want, tc.remember)
			}
		})
	}
}

// FuzzCatalog_Negotiate: whatever a request carries, the answer is a
// language salon speaks.
func FuzzCatalog_Negotiate(f *testing.F) {
	for _, s := range []string{"zh-CN", "en", "<script>", "xx-INVALID", "zh;q=0.9,en;q=0.8", "*", "zh-Hant-TW"} {
		f.Add(s, s, s)
	}
	c := newCatalog(f)
	f.Fuzz(func(t *testing.T, query, cookie, accept string) {
		got, _ := c.Negotiate(query, cookie, accept)
		if got != "en" && got != "zh-CN" {
			t.Fatalf("Negotiate(%q, %q, %q) = %q", query, cookie, accept, got)
		}
	})
}
