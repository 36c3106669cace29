package captions

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

var parseCases = []struct {
	name    string
	in      string
	format  Format
	want    []Cue
	errLine int    // >0: refused on this line
	errText string // part of the error
}{
	{name: "webvtt", in: "WEBVTT\n\n00:01.000 --> 00:04.000\nHello\n\n00:00:05.000 --> 00:00:07.500 align:start\n你好，世界\n",
		format: FormatWebVTT, want: []Cue{{ms(1000), ms(4000), "Hello"}, {ms(5000), ms(7500), "你好，世界"}}},
	{name: "bom crlf ids notes styles", in: "\ufeffWEBVTT - a title\r\nKind: captions\r\n\r\nSTYLE\r\n::cue { background: url(http://x) }\r\n\r\nNOTE a note\r\n\r\nintro\r\n00:00:01.000 --> 00:00:02.000\r\n<v Ann>Hi</v>\r\ntwo lines\r\n",
		format: FormatWebVTT, want: []Cue{{ms(1000), ms(2000), "<v Ann>Hi</v>\ntwo lines"}}},
	{name: "cr only", in: "WEBVTT\r\r00:01.000 --> 00:02.000\rA\r",
		format: FormatWebVTT, want: []Cue{{ms(1000), ms(2000), "A"}}},
	{name: "srt", in: "1\n00:00:01,000 --> 00:00:02,500\n<font color=\"red\">Red</font> <i>it</i>\n\n2\n00:00:03,000 --> 00:00:04,000\nB\n",
		format: FormatSRT, want: []Cue{{ms(1000), ms(2500), "Red <i>it</i>"}, {ms(3000), ms(4000), "B"}}},
	{name: "srt without counters", in: "00:00:01,000 --> 00:00:02,000\nA\n",
		format: FormatSRT, want: []Cue{{ms(1000), ms(2000), "A"}}},
	{name: "overlapping cues are kept", in: "WEBVTT\n\n00:01.000 --> 00:05.000\nA\n\n00:02.000 --> 00:03.000\nB\n",
		format: FormatWebVTT, want: []Cue{{ms(1000), ms(5000), "A"}, {ms(2000), ms(3000), "B"}}},
	{name: "script and html become text", in: "WEBVTT\n\n00:01.000 --> 00:02.000\n<script>alert(1)</script><img src=x onerror=alert(2)> a < b & c > d &amp; <b.loud onclick=x>B</b>\n",
		format: FormatWebVTT, want: []Cue{{ms(1000), ms(2000), "alert(1) a &lt; b &amp; c &gt; d &amp; <b.loud>B</b>"}}},
	{name: "voice annotation escaped", in: "WEBVTT\n\n00:01.000 --> 00:02.000\n<v a&b \"q\">x</v>\n",
		format: FormatWebVTT, want: []Cue{{ms(1000), ms(2000), "<v a&amp;b \"q\">x</v>"}}},
	{name: "bidi override stripped", in: "WEBVTT\n\n00:01.000 --> 00:02.000\na\u202eb\n",
		format: FormatWebVTT, want: []Cue{{ms(1000), ms(2000), "ab"}}},
	{name: "empty", in: "WEBVTT\n", format: FormatWebVTT},

	{name: "broken timestamp", in: "WEBVTT\n\n00:01.000 --> 00:0x.000\nA\n", errLine: 3, errText: "end time"},
	{name: "minutes over 59", in: "WEBVTT\n\n00:61:00.000 --> 01:02:00.000\nA\n", errLine: 3, errText: "start time"},
	{name: "ends before start", in: "WEBVTT\n\n00:05.000 --> 00:04.000\nA\n", errLine: 3, errText: "before it starts"},
	{name: "unsorted", in: "WEBVTT\n\n00:05.000 --> 00:06.000\nA\n\n00:01.000 --> 00:02.000\nB\n", errLine: 6, errText: "time order"},
	{name: "no blank after header", in: "WEBVTT\n00:01.000 --> 00:02.000\nA\n", errLine: 2, errText: "blank line"},
	{name: "not a cue", in: "WEBVTT\n\nhello\nworld\n", errLine: 3, errText: "expected a cue timing"},
	{name: "neither format", in: "<html><script>alert(1)</script></html>\n", errLine: 1, errText: "neither WebVTT"},
	{name: "latin1", in: "WEBVTT\n\n00:01.000 --> 00:02.000\ncaf\xe9\n", errLine: 4, errText: "UTF-8"},
	{name: "nul", in: "WEBVTT\n\n00:01.000 --> 00:02.000\na\x00b\n", errLine: 4, errText: "NUL"},
	{name: "huge cue text", in: "WEBVTT\n\n00:01.000 --> 00:02.000\n" + strings.Repeat("字", 400) + "\n", errLine: 3, errText: "limit of 1000"},
	{name: "too far", in: "WEBVTT\n\n25:00:00.000 --> 26:00:00.000\nA\n", errLine: 3, errText: "more than 24h"},
	{name: "srt bad counter", in: "1\n00:00:01,000 --> 00:00:02,000\nA\n\nxx\n00:00:03,000 --> 00:00:04,000\nB\n", errLine: 5, errText: "counter"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			cues, format, err := Parse([]byte(tc.in), Limits{})
			if tc.errLine > 0 {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a ParseError on line %d", err, tc.errLine)
				}
				if pe.Line != tc.errLine || !strings.Contains(pe.Error(), tc.errText) {
					t.Fatalf("err = %q, want line %d and %q", pe.Error(), tc.errLine, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format {
				t.Errorf("format = %s, want %s", format, tc.format)
			}
			if len(cues) != len(tc.want) {
				t.Fatalf("cues = %q, want %q", cues, tc.want)
			}
			for i := range cues {
				if cues[i] != tc.want[i] {
					t.Errorf("cue %d = %q, want %q", i, cues[i], tc.want[i])
				}
			}
		})
	}
}

func TestParse_Limits(t *testing.T) {
	many := "WEBVTT\n" + strings.Repeat("\n00:01.000 --> 00:02.000\nA\n", 4)
	if _, _, err := Parse([]byte(many), Limits{MaxCues: 3}); err == nil || !strings.Contains(err.Error(), "more than 3 cues") {
		t.Errorf("4 cues over a limit of 3: err = %v", err)
	}
	if _, _, err := Parse([]byte(many), Limits{MaxBytes: 20}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxBytes: err = %v, want ErrTooLarge", err)
	}
}

func TestWrite_RoundTrip(t *testing.T) {
	in := "1\r\n00:00:01,000 --> 00:00:02,000\r\nA & B\r\n<i>C</i>\r\n\r\n2\r\n01:00:03,000 --> 01:00:04,000\r\nD-->E\r\n"
	_, _, err := Parse([]byte(in), Limits{})
	if err == nil || !strings.Contains(err.Error(), "line 8") {
		t.Fatalf("\"-->\" in cue text: err = %v, want a refusal of line 8", err)
	}
	cues, _, err := Parse([]byte(strings.Replace(in, "D-->E", "D->E", 1)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(Write(cues))
	want := "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA &amp; B\n<i>C</i>\n\n01:00:03.000 --> 01:00:04.000\nD-&gt;E\n"
	if got != want {
		t.Fatalf("Write = %q, want %q", got, want)
	}
}

func TestAppendSegment(t *testing.T) {
	cues := []Cue{{ms(500), ms(1500), "a"}, {ms(1800), ms(2600), "b"}, {ms(4000), ms(5000), "c"}}
	got := string(AppendSegment(nil, cues, ms(2000), ms(2000), 180000))
	want := "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:180000,LOCAL:00:00:02.000\n\n00:00:01.800 --> 00:00:02.600\nb\n"
	if got != want {
		t.Fatalf("segment = %q, want %q", got, want)
	}
}

func TestCanonicalLang(t *testing.T) {
	for in, want := range map[string]string{"en": "en", "zh-cn": "zh-CN", "ZH-Hans-CN": "zh-Hans-CN", "pt-BR": "pt-BR", "yue": "yue"} {
		if got, err := CanonicalLang(in); err != nil || got != want {
			t.Errorf("CanonicalLang(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "und", "x-private", "en_US", "../x", "<script>", "zz-ZZ-0000000000", strings.Repeat("a", 40), "en--US", "中文"} {
		if got, err := CanonicalLang(in); err == nil {
			t.Errorf("CanonicalLang(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cues, _, err := Parse(data, Limits{MaxCueText: 200})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		for i, c := range cues {
			if c.End <= c.Start || c.Start < 0 || c.End > MaxTime || len(c.Text) > 200 || strings.Contains(c.Text, "-->") {
				t.Fatalf("cue %d out of bounds: %q", i, c)
			}
			if i > 0 && c.Start < cues[i-1].Start {
				t.Fatalf("cue %d out of order", i)
			}
			if strings.Contains(strings.ToLower(c.Text), "<script") || strings.Contains(c.Text, "\n\n") {
				t.Fatalf("cue %d keeps markup or a blank line: %q", i, c.Text)
			}
		}
		// What Parse accepts, Write writes and Parse reads back the same.
		again, format, err := Parse(Write(cues), Limits{MaxCueText: 200})
		if err != nil || format != FormatWebVTT || len(again) != len(cues) {
			t.Fatalf("round trip: %v, %d cues, want %d\n%s", err, len(again), len(cues), Write(cues))
		}
		for i := range cues {
			if again[i] != cues[i] {
				t.Fatalf("round trip cue %d = %q, want %q", i, again[i], cues[i])
			}
		}
	})
}
