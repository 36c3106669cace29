package web

import (
	"strings"
	"testing"
)

func TestChatVTT_Write(t *testing.T) {
	got := string(chatVTT([]talkChatMessage{
		{At: 1.5, Name: "小明", Text: "你好"},
		{At: 3661.25, Name: "Ada\nLovelace", Text: "a --> b & <script>\r\n\r\nnext", Question: true},
		{At: -2, Name: "early", Text: "before the start", Question: true, Answered: true},
	}))
	want := "WEBVTT\n" +
		"\nchat-1\n00:00:01.500 --> 00:00:07.500\n小明: 你好\n" +
		"\nchat-2\n01:01:01.250 --> 01:01:07.250\n[Question] Ada Lovelace: a --&gt; b &amp; &lt;script&gt;\nnext\n" +
		"\nchat-3\n00:00:00.000 --> 00:00:06.000\n[Question, answered] early: before the start\n"
	if got != want {
		t.Errorf("chatVTT:\n%s\nwant\n%s", got, want)
	}
}

// FuzzChatVTT_Write: any name and text make exactly one cue, whose text
// has no blank line, no "-->" and no markup.
func FuzzChatVTT_Write(f *testing.F) {
	f.Add("Ada", "hello")
	f.Add("a\n\nb", "x --> y\r\n\r\n<b>&amp;")
	f.Add("", "\n")
	f.Fuzz(func(t *testing.T, name, text string) {
		out := string(chatVTT([]talkChatMessage{{At: 1, Name: name, Text: text}}))
		blocks := strings.Split(strings.TrimSuffix(out, "\n"), "\n\n")
		if len(blocks) != 2 || blocks[0] != "WEBVTT" {
			t.Fatalf("chatVTT(%q, %q) is not one cue:\n%s", name, text, out)
		}
		lines := strings.Split(blocks[1], "\n")
		if len(lines) < 3 || lines[0] != "chat-1" || lines[1] != "00:00:01.000 --> 00:00:07.000" {
			t.Fatalf("chatVTT(%q, %q): cue head %q", name, text, lines)
		}
		for _, l := range lines[2:] {
			if strings.Contains(l, "-->") || strings.ContainsAny(l, "<>") || strings.TrimSpace(l) == "" {
				t.Fatalf("chatVTT(%q, %q): cue line %q", name, text, l)
			}
		}
	})
}
