package transcode

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRenditions(t *testing.T) {
	cases := []struct {
		in      string
		want    []string // names, tallest first
		wantErr string
	}{
		{"", nil, ""},
		{"720p,480p", []string{"720p", "480p"}, ""},
		{" 480p , 720P ", []string{"720p", "480p"}, ""},
		{"360p", []string{"360p"}, ""},
		{"720", nil, "not a height"},
		{"p", nil, "not a height"},
		{"-480p", nil, "not a height"},
		{"+480p", nil, "not a height"},
		{"480i", nil, "not a height"},
		{"481p", nil, "even height"},
		{"100p", nil, "even height"},
		{"4320p", nil, "even height"},
		{"480p,480p", nil, "twice"},
		{"144p,240p,360p,480p,720p", nil, "at most 4"},
		{",,", nil, "no height"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseRenditions(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParseRenditions(%q) = %v, %v; want error %q", c.in, got, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.Name)
				if r.Bitrate != DefaultBitrate(r.Height) || r.Name != strings.TrimSuffix(r.Name, "p")+"p" {
					t.Errorf("rendition %+v", r)
				}
			}
			if !reflect.DeepEqual(names, c.want) {
				t.Fatalf("ParseRenditions(%q) = %v, want %v", c.in, names, c.want)
			}
		})
	}
}

func FuzzParseRenditions(f *testing.F) {
	for _, s := range []string{"", "720p,480p", "480p,480p", "481p", "9999999999999999999p", " 360P ,", "p,p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseRenditions(s)
		if err != nil {
			return
		}
		if len(rs) > MaxRenditions {
			t.Fatalf("%d renditions", len(rs))
		}
		for i, r := range rs {
			// The name goes into a publish path: 1–32 of a-z 0-9 -.
			if r.Height < 144 || r.Height > 2160 || r.Height%2 != 0 || len(r.Name) > 32 || strings.Trim(r.Name, "0123456789p") != "" {
				t.Fatalf("bad rendition %+v from %q", r, s)
			}
			if i > 0 && r.Height >= rs[i-1].Height {
				t.Fatalf("not tallest first: %+v", rs)
			}
		}
	})
}

func TestDefaultBitrate(t *testing.T) {
	cases := []struct{ h, want int }{
		{144, 200_000}, {240, 400_000}, {480, 1_200_000}, {720, 2_800_000}, {1080, 5_000_000},
		{100, 200_000}, {2160, 14_000_000}, {4000, 14_000_000},
	}
	for _, c := range cases {
		if got := DefaultBitrate(c.h); got != c.want {
			t.Errorf("DefaultBitrate(%d) = %d, want %d", c.h, got, c.want)
		}
	}
	// In between: grows with the height.
	if a, b, c := DefaultBitrate(480), DefaultBitrate(540), DefaultBitrate(720); !(a < b && b < c) {
		t.Errorf("540p: %d, not between 480p %d and 720p %d", b, a, c)
	}
}
