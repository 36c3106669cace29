package web

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// TestWriteChatCSV checks what Excel needs to read Chinese chat (issue 13,
// finding 18): a UTF-8 byte order mark first, then the rows, formulas
// defused.
func TestWriteChatCSV(t *testing.T) {
	var b bytes.Buffer
	writeChatCSV(&b, []talkChatMessage{
		{ID: "m1", TS: "2026-12-02T01:00:00Z", Name: "小明", Text: "直播很清楚，谢谢！"},
		{ID: "m2", TS: "2026-12-02T01:00:05Z", Name: "eve", Text: "=1+1", Question: true, Votes: 3},
	})
	out := b.String()
	if !strings.HasPrefix(out, "\uFEFFid,ts,") {
		t.Fatalf("the export does not start with a BOM and the header: %q", out[:min(len(out), 20)])
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF"))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	if rows[1][3] != "小明" || rows[1][4] != "直播很清楚，谢谢！" || rows[2][4] != "'=1+1" || rows[2][6] != "3" {
		t.Fatalf("rows %q", rows)
	}
}
