package archive

import (
	"strings"
	"testing"
)

var keyCases = []struct {
	key string
	ok  bool
}{
	{"a", true},
	{"stages/main/20190421T013000Z/17.m4s", true},
	{"talks/x/slides/Résumé deck.pdf", true},
	{"a/.b/c..d/...", true},
	{strings.Repeat("k", MaxKeyLen), true},
	{"", false},
	{strings.Repeat("k", MaxKeyLen+1), false},
	{"\xff", false},
	{"a\x00b", false},
	{"a\nb", false},
	{"a\x7fb", false},
	{"a\u0085b", false},
	{`a\b`, false},
	{"/x", false},
	{"x/", false},
	{"/", false},
	{"a//b", false},
	{".", false},
	{"..", false},
	{"../x", false},
	{"a/./b", false},
	{"a/..", false},
}

func TestValidKey(t *testing.T) {
	for _, c := range keyCases {
		name := c.key
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			err := ValidKey(c.key)
			if (err == nil) != c.ok {
				t.Fatalf("ValidKey(%q) = %v, want ok=%v", c.key, err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "invalid key") {
				t.Fatalf("error %q does not say the key is invalid", err)
			}
		})
	}
}

func TestValidKey_prefix(t *testing.T) {
	for _, c := range []struct {
		prefix string
		ok     bool
	}{{"", true}, {"talks/", true}, {"talks/a", true}, {"/", false}, {"a//", false}, {"../", false}} {
		if err := validPrefix(c.prefix); (err == nil) != c.ok {
			t.Errorf("validPrefix(%q) = %v, want ok=%v", c.prefix, err, c.ok)
		}
	}
}

func FuzzValidKey(f *testing.F) {
	for _, c := range keyCases {
		f.Add(c.key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidKey(key) != nil {
			return
		}
		// An accepted key never escapes or aliases: every segment is a plain name.
		if len(key) > MaxKeyLen || strings.HasPrefix(key, "/") || strings.Contains(key, `\`) {
			t.Fatalf("accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
	})
}
