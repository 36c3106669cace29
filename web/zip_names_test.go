package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var zipNameCases = []struct{ in, want string }{
	{"slides.pdf", "slides.pdf"},
	{"讲义 第1版.pdf", "讲义 第1版.pdf"},
	{"../../etc/passwd", "_.._etc_passwd"},
	{`..\..\boot.ini`, `_.._boot.ini`},
	{"/abs/path.pdf", "_abs_path.pdf"},
	{"..", "file"},
	{".hidden", "hidden"},
	{"", "file"},
	{"a:b*c?d\"e<f>g|h.pdf", "a_b_c_d_e_f_g_h.pdf"},
	{"tab\there\x00.pdf", "tabhere.pdf"},
	{"evil\u202Efdp.exe", "evilfdp.exe"},
	{"trailing. ", "trailing"},
	{strings.Repeat("长", 100) + ".pdf", strings.Repeat("长", 48) + ".pdf"},
}

func TestZipNames_Safe(t *testing.T) {
	for _, c := range zipNameCases {
		if got := zipSafeName(c.in); got != c.want {
			t.Errorf("zipSafeName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestZipNames_Unique(t *testing.T) {
	z := zipNames{}
	for _, c := range []struct{ in, want string }{
		{"a.pdf", "a.pdf"}, {"a.pdf", "a-2.pdf"}, {"A.PDF", "A-3.PDF"}, {"b", "b"}, {"b", "b-2"},
	} {
		if got := z.unique(c.in); got != c.want {
			t.Errorf("unique(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzZipNames_Safe: whatever the stored name, the name in the zip is one
// non-empty UTF-8 file name with no way out of its folder.
func FuzzZipNames_Safe(f *testing.F) {
	for _, c := range zipNameCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := zipSafeName(in)
		if s == "" || !utf8.ValidString(s) || len(s) > maxZipName+16 {
			t.Fatalf("zipSafeName(%q) = %q", in, s)
		}
		if strings.ContainsAny(s, `/\:*?"<>|`) || s == "." || s == ".." || strings.HasPrefix(s, ".") {
			t.Fatalf("zipSafeName(%q) = %q: not one safe file name", in, s)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("zipSafeName(%q) = %q: control character", in, s)
			}
		}
	})
}
