package bench

import (
	"strings"
	"testing"
	"time"
)

const livePlaylist = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:00.000Z
#EXTINF:2.000,
40.m4s
#EXTINF:2.000,
41.m4s
#EXTINF:1.960,
42.m4s
#EXTINF:2.040,
43.m4s
#EXTINF:2.000,
44.m4s
`

func TestParseMediaPlaylist(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantErr   string
		wantSegs  int
		wantSeq   uint64
		wantStart uint64
		wantMap   string
		wantEnd   bool
	}{
		{name: "live", in: livePlaylist, wantSegs: 5, wantSeq: 40, wantStart: 42, wantMap: "init.mp4"},
		{name: "short stream starts at first segment", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.m4s\n", wantSegs: 1, wantStart: 0},
		{name: "no segments yet", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n", wantSeq: 7, wantStart: 7},
		{name: "ended, crlf, map with byterange attr", in: "#EXTM3U\r\n#EXT-X-TARGETDURATION:3\r\n#EXT-X-MAP:X-OTHER=\"10@0\",URI=\"i.mp4\"\r\n#EXTINF:3,title\r\nx.m4s\r\n#EXT-X-ENDLIST\r\n",
			wantSegs: 1, wantMap: "i.mp4", wantEnd: true},
		{name: "not m3u", in: "<html>", wantErr: "#EXTM3U"},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "no target", in: "#EXTM3U\n#EXTINF:2,\na.m4s\n", wantErr: "TARGETDURATION"},
		{name: "multivariant", in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n", wantErr: "multivariant"},
		{name: "uri without extinf", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.m4s\n", wantErr: "EXTINF"},
		{name: "bad extinf", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:NaN,\na.m4s\n", wantErr: "EXTINF"},
		{name: "zero target", in: "#EXTM3U\n#EXT-X-TARGETDURATION:0\n", wantErr: "TARGETDURATION"},
		{name: "map without uri", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:X-OTHER=\"1@0\"\n", wantErr: "URI"},
		{name: "byterange", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\na.mp4\n", wantErr: "byte-range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseMediaPlaylist([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mapURI := ""
			if n := len(p.Segments); n > 0 {
				mapURI = p.Segments[n-1].Map
			}
			if len(p.Segments) != tt.wantSegs || p.MediaSequence != tt.wantSeq || mapURI != tt.wantMap || p.Ended != tt.wantEnd {
				t.Errorf("got %d segments, sequence %d, map %q, end %v", len(p.Segments), p.MediaSequence, mapURI, p.Ended)
			}
			if got := p.liveStartSeq(); got != tt.wantStart {
				t.Errorf("live start %d, want %d", got, tt.wantStart)
			}
		})
	}
	p, err := parseMediaPlaylist([]byte(livePlaylist))
	if err != nil {
		t.Fatal(err)
	}
	if p.TargetDuration != 2*time.Second || p.Segments[2].Duration != 1960*time.Millisecond || p.segment(44).URI != "44.m4s" {
		t.Errorf("fields: %+v", p)
	}
	if last, ok := p.lastSeq(); !ok || last != 44 {
		t.Errorf("last %d %v, want 44", last, ok)
	}
}

func FuzzParseMediaPlaylist(f *testing.F) {
	f.Add(livePlaylist)
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-MAP:X-OTHER=\"10@0\",URI=\"i.mp4\"\n#EXTINF:3,title\nx.m4s\n#EXT-X-ENDLIST\n")
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:9223372036854775806\n#EXTINF:2,\na\n#EXTINF:2,\nb\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := parseMediaPlaylist([]byte(in))
		if err != nil {
			return
		}
		if p.TargetDuration <= 0 || p.TargetDuration > maxTargetDuration {
			t.Fatalf("accepted target duration %s", p.TargetDuration)
		}
		start := p.liveStartSeq()
		last, ok := p.lastSeq()
		if ok && (start < p.firstSeq() || start > last) {
			t.Fatalf("live start %d outside [%d, %d]", start, p.firstSeq(), last)
		}
		if ok {
			_ = p.segment(start) // listed: no panic
		}
	})
}

// BenchmarkParseMediaPlaylist: what one viewer's reload costs the load
// tool, which shares the machine with the server under test.
func BenchmarkParseMediaPlaylist(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseMediaPlaylist([]byte(livePlaylist)); err != nil {
			b.Fatal(err)
		}
	}
}
