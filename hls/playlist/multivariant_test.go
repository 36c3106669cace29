package playlist

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func twoRenditions() *Multivariant {
	return &Multivariant{
		IndependentSegments: true,
		Media: []Rendition{
			{Type: MediaSubtitles, GroupID: "subs", Name: "中文", Language: "zh", URI: "subs/zh.m3u8", Default: true, AutoSelect: true},
			{Type: MediaSubtitles, GroupID: "subs", Name: "English", Language: "en", URI: "subs/en.m3u8", Forced: false},
		},
		Variants: []Variant{
			{URI: "source/index.m3u8", Bandwidth: 5_500_000, AverageBandwidth: 4_000_000, Codecs: []string{"avc1.640028", "mp4a.40.2"},
				Width: 1920, Height: 1080, FrameRate: 30, Subtitles: "subs"},
			{URI: "360p/index.m3u8", Bandwidth: 800_000, Codecs: []string{"avc1.64001e", "mp4a.40.2"},
				Width: 640, Height: 360, FrameRate: 29.97, Subtitles: "subs"},
		},
	}
}

const twoRenditionsGolden = `#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="中文",LANGUAGE="zh",DEFAULT=YES,AUTOSELECT=YES,URI="subs/zh.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",URI="subs/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=5500000,AVERAGE-BANDWIDTH=4000000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=30.000,SUBTITLES="subs"
source/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=29.970,SUBTITLES="subs"
360p/index.m3u8
`

func TestMultivariant_Append(t *testing.T) {
	tests := []struct {
		name string
		m    *Multivariant
		want string
	}{
		{"two renditions with subtitles", twoRenditions(), twoRenditionsGolden},
		{"one variant, version", &Multivariant{Version: 7, Variants: []Variant{{URI: "a.m3u8", Bandwidth: 1}}},
			"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.Append([]byte("kept"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimPrefix(string(b), "kept"); got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			p, err := ParseMultivariant(b[4:])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tt.m) {
				t.Fatalf("parsed %+v\nwant %+v", p, tt.m)
			}
			var w bytes.Buffer
			if _, err := tt.m.WriteTo(&w); err != nil || w.String() != tt.want {
				t.Fatalf("WriteTo: %v", err)
			}
		})
	}
}

func TestMultivariant_Append_errors(t *testing.T) {
	variant := func(f func(*Variant)) *Multivariant {
		m := twoRenditions()
		f(&m.Variants[1])
		return m
	}
	tests := []struct {
		name string
		m    *Multivariant
		want string
	}{
		{"no variant", &Multivariant{}, "at least one variant"},
		{"no bandwidth", variant(func(v *Variant) { v.Bandwidth = 0 }), "out of range"},
		{"half a resolution", variant(func(v *Variant) { v.Height = 0 }), "out of range"},
		{"codec with comma", variant(func(v *Variant) { v.Codecs = []string{"a,b"} }), "codec"},
		{"uri with newline", variant(func(v *Variant) { v.URI = "a\nb" }), "line break"},
		{"group with quote", variant(func(v *Variant) { v.Subtitles = `"` }), "double quote"},
		{"bad media type", &Multivariant{Media: []Rendition{{Type: "TEXT"}}, Variants: []Variant{{URI: "a", Bandwidth: 1}}}, "TYPE"},
		{"media without name", &Multivariant{Media: []Rendition{{Type: MediaAudio, GroupID: "a"}}, Variants: []Variant{{URI: "a", Bandwidth: 1}}}, "NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.Append([]byte("kept"))
			if err == nil || !strings.Contains(err.Error(), tt.want) || string(b) != "kept" {
				t.Fatalf("error %v, bytes %q; want an error containing %q and the bytes kept", err, b, tt.want)
			}
		})
	}
}

func TestParseMultivariant(t *testing.T) {
	// As ffmpeg and other packagers write it: unknown tags, an I-frame
	// playlist, CRLF, attributes in another order.
	in := "#EXTM3U\r\n#EXT-X-VERSION:6\r\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i.m3u8\"\r\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Main\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\"\r\n" +
		"#EXT-X-STREAM-INF:CODECS=\"avc1.64001f, mp4a.40.2\",BANDWIDTH=1280000,RESOLUTION=1280x720,AUDIO=\"aud\",CLOSED-CAPTIONS=NONE\r\n" +
		"720p/index.m3u8\r\n"
	m, err := ParseMultivariant([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &Multivariant{Version: 6,
		Media:    []Rendition{{Type: MediaAudio, GroupID: "aud", Name: "Main", Default: true, AutoSelect: true}},
		Variants: []Variant{{URI: "720p/index.m3u8", Bandwidth: 1280000, Codecs: []string{"avc1.64001f", "mp4a.40.2"}, Width: 1280, Height: 720, Audio: "aud"}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"not a playlist", "hello", "#EXTM3U"},
		{"media playlist", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n", "media playlist"},
		{"no variant", "#EXTM3U\n#EXT-X-VERSION:3\n", "no variant"},
		{"uri alone", "#EXTM3U\na.m3u8\n", "no #EXT-X-STREAM-INF"},
		{"no uri", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", "has no URI"},
		{"no bandwidth", "#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"a\"\na\n", "without BANDWIDTH"},
		{"bad resolution", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280\na\n", "RESOLUTION"},
		{"bad frame rate", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=1e9\na\n", "FRAME-RATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseMultivariant([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestIsMultivariant(t *testing.T) {
	media, err := llLive().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{twoRenditionsGolden, true},
		{string(media), false},
		{classicLiveGolden, false},
		{"#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=1\r\na\r\n", true},
		{"", false},
	} {
		if got := IsMultivariant([]byte(tc.in)); got != tc.want {
			t.Errorf("IsMultivariant(%.40q) = %v", tc.in, got)
		}
	}
}

func FuzzParseMultivariant(f *testing.F) {
	f.Add([]byte(twoRenditionsGolden))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2,FRAME-RATE=25\na\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		IsMultivariant(data)
		m, err := ParseMultivariant(data)
		if err != nil {
			return
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("a parsed playlist does not write back: %v\n%q", err, data)
		}
		if !IsMultivariant(b) {
			t.Fatalf("the rewrite is not multivariant:\n%s", b)
		}
		m2, err := ParseMultivariant(b)
		if err != nil {
			t.Fatalf("the rewrite does not parse: %v\n%s", err, b)
		}
		b2, err := m2.Marshal()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("write → parse → write changed the playlist (%v):\n%s\nvs\n%s", err, b, b2)
		}
	})
}
