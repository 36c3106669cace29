package ingest

import (
	"strings"
	"testing"

	"github.com/salon/salon/ingest/stream"
)

func TestParsePublishURL(t *testing.T) {
	cases := []struct {
		name, path, query string
		stage, key        string
		rendition         string
		hasKey            bool
		err               string
	}{
		{name: "plain", path: "/live/main", query: "key=abc", stage: "main", key: "abc", hasKey: true},
		{name: "trailing slash", path: "/live/main/", query: "key=abc", stage: "main", key: "abc", hasKey: true},
		{name: "other params", path: "/live/hall-2", query: "x=1&key=a%2Bb&key=second", stage: "hall-2", key: "a%2Bb", hasKey: true},
		{name: "no key", path: "/live/main", stage: "main"},
		{name: "empty key", path: "/live/main", query: "key=", stage: "main", hasKey: true},
		{name: "rtmp key on server url", path: "/live", query: "key=abc/main", stage: "main", key: "abc", hasKey: true},
		{name: "rtmp no stage", path: "/live", query: "key=abc", key: "abc", hasKey: true, err: "no stage"},
		{name: "wrong prefix", path: "/stream/main", query: "key=abc", key: "abc", hasKey: true, err: "publish to /live/{stage}"},
		{name: "uppercase", path: "/live/Main", err: "invalid stage name"},
		{name: "rendition", path: "/live/main/360p", query: "key=abc", stage: "main", rendition: "360p", key: "abc", hasKey: true},
		{name: "rendition trailing slash", path: "/live/main/low-1/", stage: "main", rendition: "low-1"},
		{name: "source by name", path: "/live/main/source", query: "key=abc", stage: "main", key: "abc", hasKey: true},
		{name: "rendition uppercase", path: "/live/main/HD", err: "invalid rendition name"},
		{name: "rendition too long", path: "/live/main/" + strings.Repeat("a", 33), err: "invalid rendition name"},
		{name: "rendition empty", path: "/live/main//", err: "invalid rendition name"},
		{name: "nested", path: "/live/a/b/c", err: "invalid rendition name"},
		{name: "bad stage before rendition", path: "/live/A/b", err: "invalid stage name"},
		{name: "rtmp key on server url, stage only", path: "/live", query: "key=abc/def/main", stage: "main", key: "abc/def", hasKey: true},
		{name: "too long", path: "/live/" + strings.Repeat("a", 65), err: "invalid stage name"},
		{name: "empty stage", path: "/live/", err: "invalid stage name"},
		{name: "root", path: "/", err: "publish to"},
		{name: "dots", path: "/live/..", err: "invalid stage name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePublishURL(tc.path, tc.query)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got.Stage != tc.stage || got.Rendition != tc.rendition || got.Key != tc.key || got.HasKey != tc.hasKey {
				t.Errorf("got %+v, want stage %q rendition %q key %q hasKey %v", got, tc.stage, tc.rendition, tc.key, tc.hasKey)
			}
		})
	}
}

func TestKeyMatches(t *testing.T) {
	cases := []struct {
		got, want string
		ok        bool
	}{
		{"abc", "abc", true},
		{"abd", "abc", false},
		{"ab", "abc", false},
		{"", "", false}, // an empty key never opens the door
		{"a%2Bb", "a+b", true},
		{"a+b", "a+b", true}, // RTMP clients do not escape
		{"a b", "a+b", false},
	}
	for _, tc := range cases {
		t.Run(tc.got+"/"+tc.want, func(t *testing.T) {
			if ok := keyMatches(tc.got, tc.want); ok != tc.ok {
				t.Errorf("keyMatches(%q, %q) = %v, want %v", tc.got, tc.want, ok, tc.ok)
			}
		})
	}
}

func FuzzParsePublishURL(f *testing.F) {
	seeds := [][2]string{
		{"/live/main", "key=abc"}, {"/live/main/", "key=abc"}, {"/live", "key=abc/main"},
		{"/live/a/b", ""}, {"/live/a/source", ""}, {"/live/a/b/c", ""}, {"/", ""}, {"/live/..", "key=%zz"}, {"/live/x", "key=a&key=b"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		got, err := parsePublishURL(path, query)
		if err != nil {
			return
		}
		if !stream.ValidStage(got.Stage) {
			t.Fatalf("accepted invalid stage %q from %q %q", got.Stage, path, query)
		}
		if got.Rendition != "" && !stream.ValidRendition(got.Rendition) {
			t.Fatalf("accepted invalid rendition %q from %q %q", got.Rendition, path, query)
		}
		if strings.Contains(got.Key, "&") {
			t.Fatalf("key %q spans query parameters", got.Key)
		}
		_ = keyMatches(got.Key, "k")
	})
}
