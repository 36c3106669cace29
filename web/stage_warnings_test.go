package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/salon/salon/ingest/stream"
)

// TestServer_StageWarnings: a stage's warnings arrive as codes; /api/stages
// keeps their English text ("warnings") beside the codes, and the live page
// shows them in the reader's language.
func TestServer_StageWarnings(t *testing.T) {
	live, stages := newFakes()
	gop := stream.Warn("hls.gop_long", "Seconds", "4.0", "Target", "2s")
	align := stream.Warn("hls.align_keyframes", "Boundary", "6.000", "Keyframe", "6.480")
	align.Rendition = "360p"
	for i := range stages.stages {
		if stages.stages[i].Name == "main" {
			stages.stages[i].Warnings = []stream.Warning{gop, align}
			stages.stages[i].Renditions = []stream.RenditionInfo{
				{Name: "source", Live: true, Warnings: []stream.Warning{gop}},
				{Name: "360p", Live: true, Warnings: []stream.Warning{{Code: align.Code, Params: align.Params}}},
			}
		}
	}
	_, base := startServer(t, live, stages)

	res := do(t, "GET", base+"/api/stages/main", nil)
	var got struct {
		Warnings     []string         `json:"warnings"`
		WarningCodes []stream.Warning `json:"warning_codes"`
		Renditions   []struct {
			Name         string           `json:"name"`
			Warnings     []string         `json:"warnings"`
			WarningCodes []stream.Warning `json:"warning_codes"`
		} `json:"renditions"`
	}
	if err := json.Unmarshal([]byte(res.body), &got); err != nil {
		t.Fatalf("%v: %s", err, res.body)
	}
	wantGOP := "keyframe interval 4.0s is longer than the 2s segment target: set the encoder's keyframe interval to 2s or less"
	if len(got.Warnings) != 2 || got.Warnings[0] != wantGOP ||
		!strings.HasPrefix(got.Warnings[1], "rendition 360p: keyframes not aligned with the source's (the source cut a segment at 6.000s, this rendition's nearest keyframe is at 6.480s)") {
		t.Errorf("warnings %q", got.Warnings)
	}
	if len(got.WarningCodes) != 2 || !got.WarningCodes[0].Equal(gop) || !got.WarningCodes[1].Equal(align) {
		t.Errorf("warning_codes %+v", got.WarningCodes)
	}
	if len(got.Renditions) != 2 || len(got.Renditions[1].Warnings) != 1 || !strings.HasPrefix(got.Renditions[1].Warnings[0], "keyframes not aligned") ||
		len(got.Renditions[1].WarningCodes) != 1 || got.Renditions[1].WarningCodes[0].Code != "hls.align_keyframes" {
		t.Errorf("renditions %+v", got.Renditions)
	}

	for _, tc := range []struct{ lang, want, not string }{
		{"en", "keyframe interval 4.0s is longer than the 2s segment target", "关键帧"},
		{"zh-CN", "关键帧间隔 4.0 秒，超过了 2s 的分片目标时长", "keyframe interval"},
		{"zh-CN", "版本 360p：关键帧与主源未对齐（主源在 6.000 秒处切分片", "rendition 360p"},
	} {
		page := do(t, "GET", base+"/live/main?lang="+tc.lang, nil).body
		if !strings.Contains(page, tc.want) || strings.Contains(page, tc.not) {
			t.Errorf("%s live page: want %q and no %q in its warnings", tc.lang, tc.want, tc.not)
		}
	}
}
