package hlscheck

import (
	"strings"
	"testing"
)

const good = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00Z
#EXTINF:2.000,
10.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:02Z
#EXTINF:2.400,
11.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:01:00.5Z
#EXTINF:1.967,
12.m4s
`

func TestCheckMediaPlaylist(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"good", good, ""},
		{"no EXTM3U", strings.TrimPrefix(good, "#EXTM3U\n"), "#EXTM3U"},
		{"no target", strings.Replace(good, "#EXT-X-TARGETDURATION:2\n", "", 1), "TARGETDURATION is missing"},
		{"segment too long", strings.Replace(good, "2.400", "2.500", 1), "longer than the target"},
		{"no map", strings.Replace(good, "#EXT-X-MAP:URI=\"init-0.mp4\"\n", "", 1), "no #EXT-X-MAP"},
		{"no pdt", strings.Replace(good, "#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:02Z\n", "", 1), "PROGRAM-DATE-TIME"},
		{"old version", strings.Replace(good, "VERSION:7", "VERSION:5", 1), "VERSION 6"},
		{"tag after segment", good + "#EXT-X-DISCONTINUITY-SEQUENCE:3\n", "after the first segment"},
		{"dangling discontinuity", good + "#EXT-X-DISCONTINUITY\n", "no segment URI"},
		{"no extinf", strings.Replace(good, "#EXTINF:2.000,\n", "", 1), "no #EXTINF"},
		{"bad extinf", strings.Replace(good, "2.000", "two", 1), "EXTINF"},
		{"negative extinf", strings.Replace(good, "2.000", "-2", 1), "EXTINF"},
		{"duplicate uri", strings.Replace(good, "11.m4s", "10.m4s", 1), "listed twice"},
		{"pdt goes back", strings.Replace(good, "10:01:00.5Z", "09:00:00Z", 1), "before the previous"},
		{"after endlist", strings.Replace(good, "12.m4s\n", "12.m4s\n#EXT-X-ENDLIST\n#EXTINF:1.000,\n13.m4s\n", 1), "after #EXT-X-ENDLIST"},
		{"map without uri", strings.Replace(good, `URI="init-1.mp4"`, `X-OTHER="1@0"`, 1), "without URI"},
		{"crlf", strings.ReplaceAll(good, "\n", "\r\n"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CheckMediaPlaylist([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q (playlist %+v)", err, tt.wantErr, p)
			}
		})
	}
}

func TestCheckMediaPlaylist_fields(t *testing.T) {
	p, err := CheckMediaPlaylist([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 7 || p.TargetDuration != 2 || p.MediaSequence != 10 || !p.IndependentSegments {
		t.Errorf("header = %+v", p)
	}
	if got := strings.Join(p.URIs(), " "); got != "10.m4s 11.m4s 12.m4s" {
		t.Errorf("URIs = %s", got)
	}
	if got := strings.Join(p.MapURIs(), " "); got != "init-0.mp4 init-1.mp4" {
		t.Errorf("MapURIs = %s", got)
	}
	s := p.Segments[2]
	if s.Seq != 12 || !s.Discontinuity || s.DiscontinuitySeq != 1 || s.Map != "init-1.mp4" || s.Duration != 1.967 {
		t.Errorf("segment 12 = %+v", s)
	}
}

// livePlaylist builds a live playlist listing segments first..last (inclusive),
// with a discontinuity before the segments in disc.
func livePlaylist(seq, discSeq, first, last, target int, disc map[int]bool) string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n")
	b.WriteString("#EXT-X-TARGETDURATION:" + itoa(target) + "\n")
	b.WriteString("#EXT-X-MEDIA-SEQUENCE:" + itoa(seq) + "\n")
	if discSeq > 0 {
		b.WriteString("#EXT-X-DISCONTINUITY-SEQUENCE:" + itoa(discSeq) + "\n")
	}
	b.WriteString("#EXT-X-MAP:URI=\"init.mp4\"\n")
	for i := first; i <= last; i++ {
		if disc[i] {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		b.WriteString("#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:" + pad(i*2) + "Z\n#EXTINF:2.000,\n" + itoa(i) + ".m4s\n")
	}
	return b.String()
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func pad(i int) string {
	if i < 10 {
		return "0" + itoa(i)
	}
	return itoa(i)
}

func TestTracker_Next(t *testing.T) {
	disc := map[int]bool{2: true}
	tests := []struct {
		name    string
		reloads []string
		wantErr string
	}{
		{"slides", []string{
			livePlaylist(0, 0, 0, 3, 2, disc),
			livePlaylist(1, 0, 1, 4, 2, disc),
			livePlaylist(3, 1, 3, 5, 2, disc),
		}, ""},
		{"unchanged reload", []string{livePlaylist(0, 0, 0, 3, 2, nil), livePlaylist(0, 0, 0, 3, 2, nil)}, ""},
		{"sequence goes back", []string{livePlaylist(2, 0, 2, 4, 2, nil), livePlaylist(1, 0, 1, 4, 2, nil)}, "went back"},
		{"discontinuity sequence not bumped", []string{
			livePlaylist(0, 0, 0, 3, 2, disc), livePlaylist(3, 0, 3, 5, 2, disc),
		}, "discontinuity sequence is 0, want 1"},
		{"discontinuity sequence bumped early", []string{
			livePlaylist(0, 0, 0, 3, 2, disc), livePlaylist(1, 1, 1, 4, 2, disc),
		}, "want 0"},
		{"target shrinks", []string{livePlaylist(0, 0, 0, 3, 3, nil), livePlaylist(1, 0, 1, 4, 2, nil)}, "target duration went down"},
		{"segments vanish", []string{livePlaylist(0, 0, 0, 5, 2, nil), livePlaylist(1, 0, 1, 3, 2, nil)}, "disappeared"},
		{"uri renumbered", []string{
			livePlaylist(0, 0, 0, 3, 2, nil),
			strings.Replace(livePlaylist(0, 0, 0, 3, 2, nil), "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-MEDIA-SEQUENCE:1", 1),
		}, "moved from sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			var err error
			for _, body := range tt.reloads {
				if err = tr.Next([]byte(body)); err != nil {
					break
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTracker_Added(t *testing.T) {
	var tr Tracker
	if err := tr.Next([]byte(livePlaylist(0, 0, 0, 2, 2, nil))); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Added()); n != 3 {
		t.Fatalf("first Added = %d segments, want 3", n)
	}
	if err := tr.Next([]byte(livePlaylist(1, 0, 1, 4, 2, nil))); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range tr.Added() {
		got = append(got, s.URI)
	}
	if strings.Join(got, " ") != "3.m4s 4.m4s" {
		t.Fatalf("Added = %v, want 3.m4s 4.m4s", got)
	}
}

func FuzzCheckMediaPlaylist(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(livePlaylist(3, 1, 3, 5, 2, map[int]bool{4: true})))
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"a\",BYTERANGE=1@2\n"))
	f.Add([]byte("#EXTM3U\n#EXTINF:1,\nx.ts\n#EXT-X-ENDLIST\n"))
	for _, skipped := range []uint64{0, 3} {
		m := llMedia()
		if skipped > 0 {
			m.Skipped, m.Segments = skipped, m.Segments[skipped:]
		}
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := CheckMediaPlaylist(body)
		if err != nil {
			return
		}
		// A valid playlist reloaded unchanged is a valid reload.
		var tr Tracker
		if err := tr.Next(body); err != nil {
			t.Fatalf("first Next failed on a playlist CheckMediaPlaylist accepted: %v", err)
		}
		if err := tr.Next(body); err != nil {
			t.Fatalf("unchanged reload rejected: %v", err)
		}
		if len(p.URIs()) != len(p.Segments) {
			t.Fatal("URIs and Segments disagree")
		}
	})
}
