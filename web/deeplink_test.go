package web

import (
	"net/url"
	"strconv"
	"testing"
)

var mediaTimeCases = []struct {
	in   string
	want int
	ok   bool
}{
	{"750", 750, true},
	{"0", 0, true},
	{"750s", 750, true},
	{"12m30s", 750, true},
	{"1h2m3s", 3723, true},
	{"1h", 3600, true},
	{"2m", 120, true},
	{"1h30s", 3630, true},
	{"90m", 5400, true},
	{"", 0, false},
	{"-5", 0, false},
	{"+5", 0, false},
	{"1.5", 0, false},
	{"12m30", 0, false},
	{"30s12m", 0, false},
	{"1m1m", 0, false},
	{"h", 0, false},
	{"5x", 0, false},
	{"1d", 0, false},
	{"<script>", 0, false},
	{"9999999999", 0, false},
	{"999999h", 0, false},
	{"12m 30s", 0, false},
	{"１２m", 0, false}, // full-width digits
}

func TestDeepLink_ParseMediaTime(t *testing.T) {
	for _, c := range mediaTimeCases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := parseMediaTime(c.in)
			if got != c.want || ok != c.ok {
				t.Errorf("parseMediaTime(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestDeepLink_Parse(t *testing.T) {
	cases := []struct {
		query string
		want  deepLink
	}{
		{"t=12m30s", deepLink{Start: "750"}},
		{"t=750&slide=3", deepLink{Start: "750"}},
		{"slide=12", deepLink{Slide: 12}},
		{"t=bad&slide=2", deepLink{Slide: 2}},
		{"slide=0", deepLink{}},
		{"slide=-1", deepLink{}},
		{"slide=<b>", deepLink{}},
		{"slide=1e3", deepLink{}},
		{"", deepLink{}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			q, _ := url.ParseQuery(c.query)
			if got := parseDeepLink(q); got != c.want {
				t.Errorf("parseDeepLink(%q) = %+v, want %+v", c.query, got, c.want)
			}
		})
	}
}

// FuzzDeepLink_ParseMediaTime: anything accepted is a whole number of
// seconds in range, and a bare number reads as itself.
func FuzzDeepLink_ParseMediaTime(f *testing.F) {
	for _, c := range mediaTimeCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseMediaTime(s)
		if !ok {
			if n != 0 {
				t.Fatalf("refused %q but returned %d", s, n)
			}
			return
		}
		if n < 0 || n > maxDeepLinkSeconds {
			t.Fatalf("parseMediaTime(%q) = %d, out of range", s, n)
		}
		if v, err := strconv.Atoi(s); err == nil && v != n {
			t.Fatalf("parseMediaTime(%q) = %d", s, n)
		}
	})
}
