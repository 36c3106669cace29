package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLive_StagesAPIAndMetrics checks what an organiser's dashboard reads
// while a stage is live: /api/stages and the Prometheus metrics.
func TestLive_StagesAPIAndMetrics(t *testing.T) {
	needTools(t, "ffmpeg")
	a := testApp(t)
	startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC, rtspOut(a.rtspURL("main", testKey)))...)
	waitSegments(t, a, "main", 3, 30*time.Second)
	get(t, a.httpURL("/live/main/index.m3u8")) // one viewer

	code, body, hdr := get(t, a.httpURL("/api/stages"))
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/stages = %d %s", code, hdr.Get("Content-Type"))
	}
	var stages []struct {
		Name    string `json:"name"`
		Live    bool   `json:"live"`
		Viewers int    `json:"viewers"`
		Tracks  []struct {
			Kind             string  `json:"kind"`
			Codec            string  `json:"codec"`
			Width            int     `json:"width"`
			Height           int     `json:"height"`
			FrameRate        float64 `json:"frame_rate"`
			KeyframeInterval float64 `json:"keyframe_interval"`
			Bitrate          int64   `json:"bitrate"`
		} `json:"tracks"`
	}
	if err := json.Unmarshal(body, &stages); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(stages) != 1 || stages[0].Name != "main" || !stages[0].Live || stages[0].Viewers != 1 {
		t.Fatalf("stages = %s", body)
	}
	v := stages[0].Tracks[0]
	if v.Kind != "video" || v.Codec != "H264" || v.Width != 320 || v.Height != 240 {
		t.Fatalf("video track = %+v", v)
	}
	if v.FrameRate < 25 || v.FrameRate > 35 || v.KeyframeInterval < 0.9 || v.KeyframeInterval > 1.1 || v.Bitrate <= 0 {
		t.Fatalf("measured video = %+v; want ~30 fps, 1 s keyframe interval, a bitrate", v)
	}
	if au := stages[0].Tracks[1]; au.Kind != "audio" || au.Codec != "AAC" || au.Bitrate <= 0 {
		t.Fatalf("audio track = %+v", au)
	}

	code, body, _ = get(t, a.httpURL("/healthz"))
	if code != 200 || !strings.Contains(string(body), "ok") {
		t.Fatalf("/healthz = %d %s", code, body)
	}

	_, body, _ = get(t, a.httpURL("/metrics"))
	for _, re := range []string{
		`(?m)^salon_publishers 1$`,
		`(?m)^salon_viewers\{stage="main"\} 1$`,
		`(?m)^salon_segments_total\{stage="main"\} [1-9]`,
		`(?m)^salon_http_bytes_served_total\{kind="playlist"\} [1-9]`,
		`(?m)^salon_segment_publish_latency_seconds_count [1-9]`,
	} {
		if !regexp.MustCompile(re).Match(body) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
}
