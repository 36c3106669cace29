package playlist

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// classicLive is a live window as salon serves it without parts: a
// discontinuity with a new init segment in the middle.
func classicLive() *Media {
	return &Media{
		Version: 7, TargetDuration: 2 * time.Second, MediaSequence: 10, DiscontinuitySequence: 1,
		IndependentSegments: true,
		Segments: []Segment{
			{URI: "10.m4s", Duration: 2000 * ms, Map: "init-0.mp4", DateTime: t0},
			{URI: "11.m4s", Duration: 2002 * ms, Map: "init-0.mp4", DateTime: t0.Add(2000 * ms)},
			{URI: "12.m4s", Duration: 1967 * ms, Map: "init-1.mp4", Discontinuity: true, DateTime: t0.Add(60500 * ms)},
		},
	}
}

const classicLiveGolden = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00.000Z
#EXTINF:2.000,
10.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:02.000Z
#EXTINF:2.002,
11.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:01:00.500Z
#EXTINF:1.967,
12.m4s
`

// llParts returns n parts of 200 ms of segment seq, the first independent.
func llParts(seq, n int) []Part {
	var out []Part
	for i := range n {
		out = append(out, Part{URI: "part-" + itoa(seq) + "-" + itoa(i) + ".m4s", Duration: 200 * ms, Independent: i == 0})
	}
	return out
}

func itoa(i int) string { return string(appendUint(nil, uint64(i))) }

// llLive is a Low-Latency window: two segments with parts, two parts of the
// segment in progress, a preload hint, server control and a rendition
// report.
func llLive() *Media {
	return &Media{
		TargetDuration: 2 * time.Second, MediaSequence: 20, IndependentSegments: true,
		ServerControl: &ServerControl{CanBlockReload: true, CanSkipUntil: 12 * time.Second, PartHoldBack: 600 * ms},
		PartTarget:    200 * ms,
		Segments: []Segment{
			{URI: "20.m4s", Duration: 2 * time.Second, Map: "init-0.mp4", DateTime: t0, Parts: llParts(20, 10)},
			{URI: "21.m4s", Duration: 2 * time.Second, Map: "init-0.mp4", DateTime: t0.Add(2 * time.Second), Parts: llParts(21, 10)},
		},
		Parts:            llParts(22, 2),
		PreloadHint:      &PreloadHint{Type: HintPart, URI: "part-22-2.m4s"},
		RenditionReports: []RenditionReport{{URI: "../360p/index.m3u8", LastMSN: 21, LastPart: 1}},
	}
}

func llGolden() string {
	var b strings.Builder
	b.WriteString(`#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=0.600
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:20
#EXT-X-MAP:URI="init-0.mp4"
`)
	parts := func(seq, n int) {
		for i := range n {
			b.WriteString(`#EXT-X-PART:DURATION=0.200,URI="part-` + itoa(seq) + "-" + itoa(i) + `.m4s"`)
			if i == 0 {
				b.WriteString(",INDEPENDENT=YES")
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00.000Z\n")
	parts(20, 10)
	b.WriteString("#EXTINF:2.000,\n20.m4s\n#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:02.000Z\n")
	parts(21, 10)
	b.WriteString("#EXTINF:2.000,\n21.m4s\n")
	parts(22, 2)
	b.WriteString(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-22-2.m4s"
#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=21,LAST-PART=1
`)
	return b.String()
}

// deltaUpdate is llLive answered to _HLS_skip=YES: the 5 oldest segments
// are replaced by EXT-X-SKIP.
func deltaUpdate() *Media {
	m := llLive()
	m.MediaSequence = 15
	m.Skipped = 5
	m.Segments[0].Parts = nil // parts are listed only near the live edge
	m.RenditionReports = nil
	return m
}

const deltaGoldenHead = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=0.600
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:15
#EXT-X-SKIP:SKIPPED-SEGMENTS=5
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00.000Z
#EXTINF:2.000,
20.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:02.000Z
#EXT-X-PART:DURATION=0.200,URI="part-21-0.m4s",INDEPENDENT=YES
`

// vodCut is a talk's replay over two runs: relative URIs, EXT-X-START, a
// discontinuity and an init change between the runs, TARGETDURATION
// computed from the segments.
func vodCut() *Media {
	run1, run2 := "../../stages/main/20260301T100000Z/", "../../stages/main/20260301T110000Z/"
	return &Media{
		Version: 7, Type: TypeVOD, IndependentSegments: true,
		Start: &Start{TimeOffset: 1250 * ms, Precise: true},
		Segments: []Segment{
			{URI: run1 + "7.m4s", Duration: 2000 * ms, Map: run1 + "init-0.mp4", DateTime: t0},
			{URI: run1 + "8.m4s", Duration: 2499 * ms, Map: run1 + "init-0.mp4", DateTime: t0.Add(2 * time.Second)},
			{URI: run2 + "9.m4s", Duration: 2501 * ms, Map: run2 + "init-2.mp4", Discontinuity: true, DateTime: t0.Add(time.Hour)},
		},
		Ended: true,
	}
}

const vodCutGolden = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-START:TIME-OFFSET=1.250,PRECISE=YES
#EXT-X-MAP:URI="../../stages/main/20260301T100000Z/init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00.000Z
#EXTINF:2.000,
../../stages/main/20260301T100000Z/7.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:02.000Z
#EXTINF:2.499,
../../stages/main/20260301T100000Z/8.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="../../stages/main/20260301T110000Z/init-2.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T11:00:00.000Z
#EXTINF:2.501,
../../stages/main/20260301T110000Z/9.m4s
#EXT-X-ENDLIST
`

func TestMedia_Append(t *testing.T) {
	tests := []struct {
		name string
		m    *Media
		want string // whole playlist, or its beginning when prefix
		pfx  bool
	}{
		{"classic live window", classicLive(), classicLiveGolden, false},
		{"low latency", llLive(), llGolden(), false},
		{"delta update", deltaUpdate(), deltaGoldenHead, true},
		{"vod cut", vodCut(), vodCutGolden, false},
		{"event, no segment yet", &Media{Type: TypeEvent}, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n", false},
		{"target rounded up, hold back, gap, map hint", &Media{
			TargetDuration: 2100 * ms,
			ServerControl:  &ServerControl{HoldBack: 6 * time.Second},
			Segments:       []Segment{{URI: "a.ts", Duration: 1999600 * time.Microsecond, Gap: true}},
			PreloadHint:    &PreloadHint{Type: HintMap, URI: "init-1.mp4"},
			Ended:          true,
		}, "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:3\n#EXT-X-SERVER-CONTROL:HOLD-BACK=6.000\n#EXT-X-MEDIA-SEQUENCE:0\n" +
			"#EXT-X-GAP\n#EXTINF:2.000,\na.ts\n#EXT-X-PRELOAD-HINT:TYPE=MAP,URI=\"init-1.mp4\"\n#EXT-X-ENDLIST\n", false},
		{"rendition report without parts, negative start", &Media{
			TargetDuration:   time.Second,
			Start:            &Start{TimeOffset: -4500 * ms},
			RenditionReports: []RenditionReport{{URI: "a.m3u8", LastMSN: 7, LastPart: -1}},
		}, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-START:TIME-OFFSET=-4.500\n" +
			"#EXT-X-RENDITION-REPORT:URI=\"a.m3u8\",LAST-MSN=7\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("kept")
			b, err := tt.m.Append(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, prefix) {
				t.Fatalf("Append overwrote the caller's bytes: %q", b[:4])
			}
			got := string(b[len(prefix):])
			if (tt.pfx && !strings.HasPrefix(got, tt.want)) || (!tt.pfx && got != tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			again, err := tt.m.Marshal()
			if err != nil || string(again) != got {
				t.Fatalf("Marshal differs from Append (%v)", err)
			}
			var w bytes.Buffer
			if n, err := tt.m.WriteTo(&w); err != nil || n != int64(len(got)) || w.String() != got {
				t.Fatalf("WriteTo: %d, %v", n, err)
			}
		})
	}
}

func TestMedia_Append_errors(t *testing.T) {
	seg := func(f func(*Segment)) *Media {
		m := classicLive()
		f(&m.Segments[1])
		return m
	}
	tests := []struct {
		name string
		m    *Media
		want string
	}{
		{"empty uri", seg(func(s *Segment) { s.URI = "" }), "empty URI"},
		{"uri with newline", seg(func(s *Segment) { s.URI = "a\n#EXT-X-ENDLIST" }), "line break"},
		{"uri starting with #", seg(func(s *Segment) { s.URI = "#a" }), "cannot start with #"},
		{"uri with spaces", seg(func(s *Segment) { s.URI = " a" }), "white space"},
		{"map with quote", seg(func(s *Segment) { s.Map = `a"b` }), "double quote"},
		{"negative duration", seg(func(s *Segment) { s.Duration = -ms }), "out of range"},
		{"date far away", seg(func(s *Segment) { s.DateTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), "out of range"},
		{"part with quote", seg(func(s *Segment) { s.Parts = []Part{{URI: `"`, Duration: ms}} }), "double quote"},
		{"bad type", &Media{Type: "LIVE"}, "neither EVENT nor VOD"},
		{"bad hint", &Media{PreloadHint: &PreloadHint{Type: "BYTES", URI: "x"}}, "neither PART nor MAP"},
		{"hint without uri", &Media{PreloadHint: &PreloadHint{}}, "empty URI"},
		{"report without uri", &Media{RenditionReports: []RenditionReport{{}}}, "empty URI"},
		{"negative hold back", &Media{ServerControl: &ServerControl{PartHoldBack: -1}}, "PART-HOLD-BACK"},
		{"huge target", &Media{TargetDuration: MaxDuration + 1}, "target duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.Append([]byte("kept"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if string(b) != "kept" {
				t.Fatalf("Append left %q after an error", b)
			}
		})
	}
}

// TestMedia_roundTrip: what the writer writes parses back to the same model
// and writes again to the same bytes.
func TestMedia_roundTrip(t *testing.T) {
	for name, m := range map[string]*Media{
		"classic": classicLive(), "ll": llLive(), "delta": deltaUpdate(), "vod": vodCut(),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseMedia(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			b2, err := p.Marshal()
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("rewrite differs (%v):\n%s\nvs\n%s", err, b, b2)
			}
			// The parsed model equals the input once the writer's choices are
			// filled in.
			want := *m
			if want.Version == 0 {
				want.Version = p.Version
			}
			if want.TargetDuration == 0 {
				want.TargetDuration = p.TargetDuration
			}
			if !reflect.DeepEqual(&want, p) {
				t.Fatalf("parsed\n%+v\nwant\n%+v", p, &want)
			}
		})
	}
}

func TestParseMedia(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, m *Media)
	}{
		{"ffmpeg's forms", "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n" +
			"#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.250+0200\nseg0.m4s\n" +
			"#EXTINF:1.5,title, with comma\nseg1.m4s\n#EXT-X-ENDLIST\n",
			func(t *testing.T, m *Media) {
				if len(m.Segments) != 2 || !m.Ended || m.Type != TypeVOD || m.Version != 7 {
					t.Fatalf("%+v", m)
				}
				s := m.Segments[0]
				if !s.DateTime.Equal(t0.Add(250*ms)) || s.DateTime.Location() != time.UTC || s.Map != "init.mp4" || s.Duration != 2*time.Second {
					t.Errorf("segment 0 %+v", s)
				}
				if s := m.Segments[1]; s.Duration != 1500*ms || s.Map != "init.mp4" || !s.DateTime.IsZero() {
					t.Errorf("segment 1 %+v", s)
				}
			}},
		{"crlf, blank lines, comments, unknown tags and attributes", "#EXTM3U\r\n\r\n# a comment\r\n#EXT-X-TARGETDURATION:4\r\n" +
			"#EXT-X-SERVER-CONTROL:CAN-SKIP-DATERANGES=YES, CAN-BLOCK-RELOAD=YES\r\n#EXT-X-DATERANGE:ID=\"x\"\r\n#EXTINF:3.0,\r\na.m4s\r\n",
			func(t *testing.T, m *Media) {
				if len(m.Segments) != 1 || m.Segments[0].URI != "a.m4s" || m.TargetDuration != 4*time.Second ||
					m.ServerControl == nil || !m.ServerControl.CanBlockReload {
					t.Fatalf("%+v", m)
				}
			}},
		{"exact decimal durations", "#EXTM3U\n#EXTINF:0.1000000009,\na\n#EXTINF:2.002,\nb\n",
			func(t *testing.T, m *Media) {
				if m.Segments[0].Duration != 100000000 || m.Segments[1].Duration != 2002*ms {
					t.Fatalf("%v %v", m.Segments[0].Duration, m.Segments[1].Duration)
				}
			}},
		{"parts of the segment in progress", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.33334\n" +
			"#EXT-X-PART:DURATION=0.33334,URI=\"p0\",INDEPENDENT=YES\n#EXTINF:0.33334,\ns0\n" +
			"#EXT-X-PART:DURATION=0.2,URI=\"p1\",GAP=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p2\",BYTERANGE-FOO=1\n",
			func(t *testing.T, m *Media) {
				if m.PartTarget != 333340*time.Microsecond || len(m.Segments[0].Parts) != 1 || !m.Segments[0].Parts[0].Independent {
					t.Fatalf("%+v", m)
				}
				if len(m.Parts) != 1 || !m.Parts[0].Gap || m.PreloadHint.URI != "p2" || m.PreloadHint.Type != HintPart {
					t.Fatalf("parts %+v hint %+v", m.Parts, m.PreloadHint)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMedia([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, m)
			if _, err := m.Marshal(); err != nil {
				t.Fatalf("a parsed playlist does not write back: %v", err)
			}
		})
	}
}

func TestParseMedia_errors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "#EXTM3U"},
		{"not a playlist", "<html>", "#EXTM3U"},
		{"multivariant", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", "multivariant"},
		{"uri without extinf", "#EXTM3U\na.m4s\n", "line 2: \"a.m4s\": segment \"a.m4s\" has no #EXTINF"},
		{"bad extinf", "#EXTM3U\n#EXTINF:two,\na\n", "EXTINF"},
		{"negative extinf", "#EXTM3U\n#EXTINF:-2,\na\n", "EXTINF"},
		{"exponent", "#EXTM3U\n#EXTINF:1e3,\na\n", "EXTINF"},
		{"huge extinf", "#EXTM3U\n#EXTINF:99999999999,\na\n", "EXTINF"},
		{"bad date", "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n", "PROGRAM-DATE-TIME"},
		{"map without uri", "#EXTM3U\n#EXT-X-MAP:BYTERANGE2=\"1@0\"\n", "without URI"},
		{"map byte range", "#EXTM3U\n#EXT-X-MAP:URI=\"i\",BYTERANGE=\"1@0\"\n", "BYTERANGE"},
		{"byte range", "#EXTM3U\n#EXT-X-BYTERANGE:100@0\n", "byte-range"},
		{"encrypted", "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n", "encrypted"},
		{"unterminated quote", "#EXTM3U\n#EXT-X-MAP:URI=\"init\n", "closing"},
		{"stray quote", "#EXTM3U\n#EXT-X-MAP:URI=a\"b\n", "unquoted"},
		{"bad type", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:LIVE\n", "neither EVENT nor VOD"},
		{"bad sequence", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n", "MEDIA-SEQUENCE"},
		{"huge sequence", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n", "out of range"},
		{"part without uri", "#EXTM3U\n#EXT-X-PART:DURATION=0.2\n", "without URI"},
		{"part without duration", "#EXTM3U\n#EXT-X-PART:URI=\"p\"\n", "without DURATION"},
		{"hint type", "#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=BYTES,URI=\"p\"\n", "neither PART nor MAP"},
		{"report without msn", "#EXTM3U\n#EXT-X-RENDITION-REPORT:URI=\"r\"\n", "LAST-MSN"},
		{"bad yes", "#EXTM3U\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=yes\n", "YES or NO"},
		{"carriage return inside", "#EXTM3U\n#EXTINF:1,\na\rb\n", "carriage return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMedia([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q (%+v)", err, tt.want, m)
			}
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrNotPlaylist) {
				t.Fatalf("error %T is neither a *ParseError nor ErrNotPlaylist", err)
			}
		})
	}
}

func TestParseMediaDeviations(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"none", classicLiveGolden, ""},
		{"tag twice", strings.Replace(classicLiveGolden, "#EXT-X-TARGETDURATION:2\n", "#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:3\n", 1), "line 5: \"#EXT-X-TARGETDURATION:3\": the tag appears twice"},
		{"tag after segment", classicLiveGolden + "#EXT-X-PLAYLIST-TYPE:EVENT\n", "after the first segment"},
		{"dangling", classicLiveGolden + "#EXT-X-DISCONTINUITY\n", "no segment URI"},
		{"after endlist", classicLiveGolden + "#EXT-X-ENDLIST\n#EXTINF:1,\n13.m4s\n", "after #EXT-X-ENDLIST"},
		{"two extinf", strings.Replace(classicLiveGolden, "#EXTINF:2.000,\n", "#EXTINF:2.000,\n#EXTINF:2.000,\n", 1), "two #EXTINF"},
		{"fractional target", strings.Replace(classicLiveGolden, "TARGETDURATION:2", "TARGETDURATION:2.5", 1), "whole number"},
		{"parts in progress are fine", llGolden(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, devs, err := ParseMediaDeviations([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if len(devs) != 0 {
					t.Fatalf("deviations %v", devs)
				}
				return
			}
			if len(devs) == 0 || !strings.Contains(devs[0].String(), tt.want) {
				t.Fatalf("deviations %v, want the first to contain %q", devs, tt.want)
			}
		})
	}
}

func FuzzParseMedia(f *testing.F) {
	for _, m := range []*Media{classicLive(), llLive(), deltaUpdate(), vodCut()} {
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.250+0200\nseg0.m4s\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-START:TIME-OFFSET=-3.5,PRECISE=NO\n#EXT-X-RENDITION-REPORT:URI=\"r\",LAST-MSN=3,LAST-PART=0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMedia(data)
		if err != nil {
			return
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("a parsed playlist does not write back: %v\n%q", err, data)
		}
		m2, err := ParseMedia(b)
		if err != nil {
			t.Fatalf("the rewrite does not parse: %v\n%s", err, b)
		}
		b2, err := m2.Marshal()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("write → parse → write changed the playlist (%v):\n%s\nvs\n%s", err, b, b2)
		}
	})
}

// BenchmarkMedia_Append renders a Low-Latency window of 10 segments with 10
// parts each into a reused buffer, as the live path does on every part.
func BenchmarkMedia_Append(b *testing.B) {
	m := &Media{
		TargetDuration: 2 * time.Second, MediaSequence: 1000, IndependentSegments: true,
		ServerControl: &ServerControl{CanBlockReload: true, CanSkipUntil: 12 * time.Second, PartHoldBack: 600 * ms},
		PartTarget:    200 * ms,
		Parts:         llParts(1010, 3),
		PreloadHint:   &PreloadHint{URI: "part-1010-3.m4s"},
	}
	for i := range 10 {
		m.Segments = append(m.Segments, Segment{URI: itoa(1000+i) + ".m4s", Duration: 2 * time.Second, Map: "init-0.mp4",
			DateTime: t0.Add(time.Duration(i) * 2 * time.Second), Parts: llParts(1000+i, 10)})
	}
	buf, err := m.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, err = m.Append(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMedia(b *testing.B) {
	data, err := llLive().Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMedia(data); err != nil {
			b.Fatal(err)
		}
	}
}
