package textclean

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "Go at the venue", "Go at the venue"},
		{"chinese", "直播与回放：一次讲座", "直播与回放：一次讲座"},
		{"right-to-left override", "Invoice \u202Efdp.exe", "Invoice fdp.exe"},
		{"isolates and embeddings", "a\u2066b\u2067c\u2068d\u2069e\u202Af\u202Bg\u202Ch\u202Di", "abcdefghi"},
		{"marks", "a\u200Eb\u200Fc\u061Cd", "abcd"},
		{"zero width space and BOM", "a\u200Bb\uFEFFc", "abc"},
		{"soft hyphen and tags", "a\u00ADb\U000E0041c", "abc"},
		{"controls", "a\x00b\x1bc\x7fd\u0085e\u009bf", "abcd ef"},
		{"line breaks become spaces", "a\nb\r\nc\td\u2028e", "a b c d e"},
		{"emoji sequences keep their joiner", "👩\u200D💻 and 🏳️\u200D🌈", "👩\u200D💻 and 🏳️\u200D🌈"},
		{"zwnj kept", "می\u200Cخواهم", "می\u200Cخواهم"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"only invisible", "\u202E\u200B", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Line(tc.in); got != tc.want {
				t.Fatalf("Line(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestBlock(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"paragraphs", "one\n\ntwo", "one\n\ntwo"},
		{"CRLF and CR", "a\r\nb\rc", "a\nb\nc"},
		{"separators", "a\u2028b\u2029c", "a\nb\nc"},
		{"tab kept", "a\tb", "a\tb"},
		{"override", "pay \u202Emoc.live", "pay moc.live"},
		{"controls", "a\x07b", "ab"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Block(tc.in); got != tc.want {
				t.Fatalf("Block(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestLine_NoCopy checks the fast path returns clean text itself.
func TestLine_NoCopy(t *testing.T) {
	s := strings.Repeat("直播 live ", 10)
	if n := testing.AllocsPerRun(100, func() { _ = Line(s) }); n != 0 {
		t.Fatalf("Line of clean text allocates %v times", n)
	}
}

// FuzzClean checks the invariants of the rule on any input: valid UTF-8 out,
// nothing the rule removes left behind, idempotent, never longer in
// characters than the input.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"Invoice \u202Efdp.exe", "直播", "a\r\nb", "👩\u200D💻", "\xff\xfe", "\u2066x\u2069", "", "\t\n\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, multiline := range []bool{false, true} {
			out := clean(s, multiline)
			if !utf8.ValidString(out) {
				t.Fatalf("clean(%q, %v) = %q: invalid UTF-8", s, multiline, out)
			}
			for _, r := range out {
				if r == '\n' || r == '\t' {
					if !multiline {
						t.Fatalf("Line(%q) = %q keeps %q", s, out, r)
					}
					continue
				}
				if Removed(r) || unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d' {
					t.Fatalf("clean(%q, %v) = %q keeps %U", s, multiline, out, r)
				}
			}
			if again := clean(out, multiline); again != out {
				t.Fatalf("not idempotent: %q → %q → %q", s, out, again)
			}
			if utf8.RuneCountInString(out) > utf8.RuneCountInString(s) {
				t.Fatalf("clean(%q) = %q has more characters", s, out)
			}
		}
	})
}
