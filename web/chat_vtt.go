package web

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/salon/salon/archive"
)

// chatCue is how long a chat message stays on screen in the chat track.
const chatCue = 6 * time.Second

// chatVTT writes a talk's chat as a WebVTT track over its replay, for any
// player that shows subtitles: one cue per message from its position in the
// video (At) for chatCue, "name: text", questions marked. Cue text is
// escaped as WebVTT asks (&, <, >; so "-->" cannot appear), and blank lines,
// which would end a cue early, are dropped. msgs must be in the order of At.
func chatVTT(msgs []talkChatMessage) []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	for i, m := range msgs {
		start := time.Duration(m.At * float64(time.Second))
		if start < 0 {
			start = 0
		}
		b.WriteString("\n")
		b.WriteString("chat-")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString("\n")
		b.WriteString(archive.VTTTime(start))
		b.WriteString(" --> ")
		b.WriteString(archive.VTTTime(start + chatCue))
		b.WriteString("\n")
		prefix := ""
		switch {
		case m.Question && m.Answered:
			prefix = "[Question, answered] "
		case m.Question:
			prefix = "[Question] "
		}
		text := prefix + vttText(oneLine(m.Name)) + ": " + vttText(m.Text)
		for line := range strings.SplitSeq(text, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			b.WriteString(line)
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

// vttReplacer escapes cue text (WebVTT §4.2.2: no "&", "<" or "-->"; ">"
// too, so that no arrow survives) and turns carriage returns into line
// breaks.
var vttReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r\n", "\n", "\r", "\n")

func vttText(s string) string { return vttReplacer.Replace(s) }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
