package hlscheck

import (
	"strings"
	"testing"

	"github.com/salon/salon/hls/playlist"
)

func stageVariants() *playlist.Multivariant {
	return &playlist.Multivariant{
		IndependentSegments: true,
		Media: []playlist.Rendition{
			{Type: playlist.MediaSubtitles, GroupID: "subs", Name: "中文", Language: "zh", URI: "subs/zh.m3u8", Default: true, AutoSelect: true},
			{Type: playlist.MediaSubtitles, GroupID: "subs", Name: "English", Language: "en", URI: "subs/en.m3u8"},
		},
		Variants: []playlist.Variant{
			{URI: "source/index.m3u8", Bandwidth: 5_000_000, AverageBandwidth: 4_000_000, Codecs: []string{"avc1.640028", "mp4a.40.2"},
				Width: 1920, Height: 1080, Subtitles: "subs"},
			{URI: "360p/index.m3u8", Bandwidth: 800_000, Codecs: []string{"avc1.64001e", "mp4a.40.2"}, Width: 640, Height: 360, Subtitles: "subs"},
			{URI: "audio/index.m3u8", Bandwidth: 130_000, Codecs: []string{"mp4a.40.2"}},
		},
	}
}

func TestCheckMultivariantPlaylist(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(m *playlist.Multivariant)
		wantErr string
	}{
		{"valid", func(*playlist.Multivariant) {}, ""},
		{"duplicate uri", func(m *playlist.Multivariant) { m.Variants[1].URI = m.Variants[0].URI }, "listed twice"},
		{"average over peak", func(m *playlist.Multivariant) { m.Variants[0].AverageBandwidth = 6_000_000 }, "AVERAGE-BANDWIDTH"},
		{"no codecs", func(m *playlist.Multivariant) { m.Variants[1].Codecs = nil }, "no CODECS"},
		{"video without resolution", func(m *playlist.Multivariant) { m.Variants[1].Width, m.Variants[1].Height = 0, 0 }, "no RESOLUTION"},
		{"unknown group", func(m *playlist.Multivariant) { m.Variants[0].Subtitles = "captions" }, "no EXT-X-MEDIA defines"},
		{"group of another type", func(m *playlist.Multivariant) { m.Variants[0].Audio = "subs" }, "AUDIO group"},
		{"duplicate name", func(m *playlist.Multivariant) { m.Media[1].Name = "中文" }, "two renditions named"},
		{"subtitles without uri", func(m *playlist.Multivariant) { m.Media[1].URI = "" }, "no URI"},
		{"forced audio", func(m *playlist.Multivariant) {
			m.Media = append(m.Media, playlist.Rendition{Type: playlist.MediaAudio, GroupID: "a", Name: "Main", Forced: true})
		}, "FORCED"},
		{"not multivariant", nil, "media playlist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.edit == nil {
				body = []byte(good)
			} else {
				m := stageVariants()
				tt.edit(m)
				var err error
				if body, err = m.Marshal(); err != nil {
					t.Fatal(err)
				}
			}
			m, err := CheckMultivariantPlaylist(body)
			if tt.wantErr == "" {
				if err != nil || len(m.Variants) != 3 {
					t.Fatalf("%v\n%s", err, body)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q\n%s", err, tt.wantErr, body)
			}
		})
	}
}

// TestCheckMultivariantPlaylist_defaultNeedsAutoselect reads a hand-written
// playlist: the writer always adds AUTOSELECT=YES to DEFAULT=YES.
func TestCheckMultivariantPlaylist_defaultNeedsAutoselect(t *testing.T) {
	body := "#EXTM3U\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"zh\",DEFAULT=YES,URI=\"zh.m3u8\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"mp4a.40.2\",SUBTITLES=\"s\"\na.m3u8\n"
	if _, err := CheckMultivariantPlaylist([]byte(body)); err == nil || !strings.Contains(err.Error(), "AUTOSELECT") {
		t.Fatalf("error %v, want one about AUTOSELECT", err)
	}
}

func FuzzCheckMultivariantPlaylist(f *testing.F) {
	b, err := stageVariants().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(good))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := CheckMultivariantPlaylist(body)
		if err != nil {
			return
		}
		// What passes writes back and passes again.
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("a checked playlist does not write back: %v", err)
		}
		if _, err := CheckMultivariantPlaylist(out); err != nil {
			t.Fatalf("the rewrite fails the check: %v\n%s", err, out)
		}
	})
}
