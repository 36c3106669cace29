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
		{name: "ended, crlf", in: "#EXTM3U\r\n#EXT-X-TARGETDURATION:3\r\n#EXT-X-MAP:URI=\"i.mp4\"\r\n#EXTINF:3,title\r\nx.m4s\r\n#EXT-X-ENDLIST\r\n",
			wantSegs: 1, wantMap: "i.mp4", wantEnd: true},
		{name: "map with byterange", in: "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-MAP:BYTERANGE=\"10@0\",URI=\"i.mp4\"\n", wantErr: "BYTERANGE"},
		{name: "not m3u", in: "<html>", wantErr: "#EXTM3U"},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "no target", in: "#EXTM3U\n#EXTINF:2,\na.m4s\n", wantErr: "TARGETDURATION"},
		{name: "multivariant", in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n", wantErr: "multivariant"},
		{name: "uri without extinf", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.m4s\n", wantErr: "EXTINF"},
		{name: "bad extinf", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:NaN,\na.m4s\n", wantErr: "EXTINF"},
		{name: "zero target", in: "#EXTM3U\n#EXT-X-TARGETDURATION:0\n", wantErr: "TARGETDURATION"},
		{name: "map without uri", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:X=1\n", wantErr: "URI"},
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
			if len(p.segments) != tt.wantSegs || p.mediaSequence != tt.wantSeq || p.mapURI != tt.wantMap || p.endList != tt.wantEnd {
				t.Errorf("got %d segments, sequence %d, map %q, end %v", len(p.segments), p.mediaSequence, p.mapURI, p.endList)
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
	if p.targetDuration != 2*time.Second || p.segments[2].duration != 1960*time.Millisecond || p.segments[4].uri != "44.m4s" {
		t.Errorf("fields: %+v", p)
	}
	if last, ok := p.lastSeq(); !ok || last != 44 {
		t.Errorf("last %d %v, want 44", last, ok)
	}
}

func FuzzParseMediaPlaylist(f *testing.F) {
	f.Add(livePlaylist)
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-MAP:BYTERANGE=\"10@0\",URI=\"i.mp4\"\n#EXTINF:3,title\nx.m4s\n#EXT-X-ENDLIST\n")
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:9223372036854775806\n#EXTINF:2,\na\n#EXTINF:2,\nb\n")
	f.Add(llPlaylist)
	f.Fuzz(func(t *testing.T, in string) {
		p, err := parseMediaPlaylist([]byte(in))
		if err != nil {
			return
		}
		if p.targetDuration <= 0 {
			t.Fatalf("accepted target duration %s", p.targetDuration)
		}
		start := p.liveStartSeq()
		last, ok := p.lastSeq()
		if ok && (start < p.mediaSequence || start > last) {
			t.Fatalf("live start %d outside [%d, %d]", start, p.mediaSequence, last)
		}
		if msn, _ := p.nextPart(); msn != p.mediaSequence+uint64(len(p.segments)) {
			t.Fatalf("next part in segment %d, want the edge", msn)
		}
	})
}

const llPlaylist = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=12
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI="init.mp4"
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXT-X-GAP
#EXTINF:2.000,
gap.mp4
#EXT-X-PART:DURATION=0.2,URI="14.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.8,URI="14.1.m4s"
#EXTINF:2.000,
14.m4s
#EXT-X-PART:DURATION=0.2,URI="15.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="15.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="15.2.m4s"
`

func TestParseMediaPlaylist_LL(t *testing.T) {
	p, err := parseMediaPlaylist([]byte(llPlaylist))
	if err != nil {
		t.Fatal(err)
	}
	if p.mediaSequence != 13 || len(p.segments) != 2 || p.edgeSeq() != 15 {
		t.Errorf("sequence %d, %d segments, edge %d; want 13 (10 + 3 skipped), 2, 15", p.mediaSequence, len(p.segments), p.edgeSeq())
	}
	if !p.segments[0].gap || p.segments[1].gap || len(p.segments[1].parts) != 2 || !p.segments[1].parts[0].independent || p.segments[1].parts[1].independent {
		t.Errorf("segments: %+v", p.segments)
	}
	if len(p.trailing) != 2 || p.trailing[1].uri != "15.1.m4s" || p.trailing[1].duration != 200*time.Millisecond {
		t.Errorf("trailing parts: %+v", p.trailing)
	}
	if msn, part := p.nextPart(); msn != 15 || part != 2 {
		t.Errorf("next part %d.%d, want 15.2", msn, part)
	}
	if !p.canBlockReload || p.partHoldBack != 600*time.Millisecond || p.canSkipUntil != 12*time.Second ||
		p.partTarget != 200*time.Millisecond || p.preloadHint != "15.2.m4s" {
		t.Errorf("LL fields: %+v", p)
	}

	bad := []struct{ name, in, wantErr string }{
		{"part without uri", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:DURATION=0.2\n", "URI"},
		{"part without duration", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:URI=\"a\"\n", "DURATION"},
		{"byte-range part", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:DURATION=0.2,URI=\"a\",BYTERANGE=\"10@0\"\n", "byte-range"},
		{"bad hold back", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=x\n", "PART-HOLD-BACK"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseMediaPlaylist([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestTracksOf(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		wantErr  string
	}{
		{"mediamtx video and audio", "#EXTM3U\n#EXT-X-VERSION:10\n\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio2\",AUTOSELECT=YES,DEFAULT=YES,URI=\"audio2_stream.m3u8\"\n\n" +
			"#EXT-X-STREAM-INF:BANDWIDTH=872,CODECS=\"avc1.42c028,mp4a.40.2\",AUDIO=\"audio\"\nvideo1_stream.m3u8\n",
			[]string{"video1_stream.m3u8", "audio2_stream.m3u8"}, ""},
		{"muxed: audio without uri", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\n1080p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n360p/index.m3u8\n",
			[]string{"1080p/index.m3u8"}, ""},
		{"default rendition after the variant", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"g\"\nv.m3u8\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"en\",URI=\"en.m3u8\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"zh\",DEFAULT=YES,URI=\"zh.m3u8\"\n",
			[]string{"v.m3u8", "zh.m3u8"}, ""},
		{"no variant uri", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", nil, "URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !isMultivariant([]byte(tt.in)) {
				t.Fatal("not seen as multivariant")
			}
			got, err := tracksOf([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
