package chat

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/salon/salon/internal/textclean"
)

var decodeFrameCases = []struct {
	name string
	in   string
	want clientFrame
	code string // error code; "" for success
}{
	{"hello", `{"type":"hello","name":"Ada"}`, clientFrame{Kind: "hello", Name: "Ada"}, ""},
	{"hello trimmed and stripped", `{"type":"hello","name":" A\u0000d\na\t "}`, clientFrame{Kind: "hello", Name: "Ad a"}, ""},
	{"hello bidi override stripped", `{"type":"hello","name":"a\u202eb"}`, clientFrame{Kind: "hello", Name: "ab"}, ""},
	{"hello empty", `{"type":"hello","name":"\u0001"}`, clientFrame{}, CodeBadRequest},
	{"hello 32 chars", `{"type":"hello","name":"` + strings.Repeat("ü", 32) + `"}`, clientFrame{Kind: "hello", Name: strings.Repeat("ü", 32)}, ""},
	{"hello 33 chars", `{"type":"hello","name":"` + strings.Repeat("ü", 33) + `"}`, clientFrame{}, CodeTooLong},
	{"chat keeps newline", `{"type":"chat","text":"a\r\nb"}`, clientFrame{Kind: "chat", Text: "a\nb"}, ""},
	{"chat html verbatim", `{"type":"chat","text":"<img src=x onerror=alert(1)>"}`, clientFrame{Kind: "chat", Text: "<img src=x onerror=alert(1)>"}, ""},
	{"chat 500", `{"type":"chat","text":"` + strings.Repeat("x", 500) + `"}`, clientFrame{Kind: "chat", Text: strings.Repeat("x", 500)}, ""},
	{"chat 501", `{"type":"chat","text":"` + strings.Repeat("x", 501) + `"}`, clientFrame{}, CodeTooLong},
	{"chat whitespace only", `{"type":"chat","text":"  \n "}`, clientFrame{}, CodeBadRequest},
	{"question", `{"type":"question","text":"why?"}`, clientFrame{Kind: "question", Text: "why?"}, ""},
	{"vote", `{"type":"vote","id":"abc"}`, clientFrame{Kind: "vote", ID: "abc"}, ""},
	{"vote without id", `{"type":"vote"}`, clientFrame{}, CodeBadRequest},
	{"unknown type", `{"type":"x"}`, clientFrame{}, CodeBadRequest},
	{"no type", `{}`, clientFrame{}, CodeBadRequest},
	{"wrong field type", `{"type":"chat","text":5}`, clientFrame{}, CodeBadRequest},
	{"not JSON", `hello`, clientFrame{}, CodeBadRequest},
	{"null", `null`, clientFrame{}, CodeBadRequest},
	{"invalid UTF-8", "{\"type\":\"chat\",\"text\":\"a\xffb\"}", clientFrame{Kind: "chat", Text: "a\uFFFDb"}, ""},
}

func TestDecodeFrame(t *testing.T) {
	for _, tt := range decodeFrameCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeFrame([]byte(tt.in), 500, 32)
			if tt.code != "" {
				if err == nil || err.Code != tt.code || err.Message == "" {
					t.Fatalf("decodeFrame = %+v, %v; want error %s", got, err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeFrame: %v", err)
			}
			if got != tt.want {
				t.Errorf("decodeFrame = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, tt := range decodeFrameCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeFrame(data, 500, 32)
		if err != nil {
			switch err.Code {
			case CodeBadRequest, CodeTooLong:
			default:
				t.Fatalf("unexpected error code %q", err.Code)
			}
			return
		}
		check := func(s string, max int, newline bool) {
			n := utf8.RuneCountInString(s)
			if n == 0 || n > max || !utf8.ValidString(s) || s != strings.TrimSpace(s) {
				t.Fatalf("accepted %q (%d runes)", s, n)
			}
			for _, r := range s {
				if newline && (r == '\n' || r == '\t') {
					continue
				}
				if unicode.IsControl(r) || textclean.Removed(r) {
					t.Fatalf("accepted control character %U in %q", r, s)
				}
			}
		}
		switch got.Kind {
		case "hello":
			check(got.Name, 32, false)
		case "chat", "question":
			check(got.Text, 500, true)
		case "vote":
			if got.ID == "" || len(got.ID) > maxIDLen {
				t.Fatalf("accepted vote id %q", got.ID)
			}
		default:
			t.Fatalf("unknown kind %q", got.Kind)
		}
	})
}
