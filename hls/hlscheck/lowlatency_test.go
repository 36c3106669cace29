package hlscheck

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/hls/playlist"
)

var llT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// llMedia is a valid Low-Latency window: ten 2 s segments of ten 200 ms
// parts (parts listed for the last two), two parts of the segment in
// progress, a preload hint.
func llMedia() *playlist.Media {
	parts := func(seq, n int) []playlist.Part {
		var out []playlist.Part
		for i := range n {
			out = append(out, playlist.Part{URI: "p" + strconv.Itoa(seq) + "." + strconv.Itoa(i) + ".m4s",
				Duration: 200 * time.Millisecond, Independent: i == 0})
		}
		return out
	}
	m := &playlist.Media{
		TargetDuration: 2 * time.Second, MediaSequence: 100, IndependentSegments: true,
		ServerControl: &playlist.ServerControl{CanBlockReload: true, CanSkipUntil: 12 * time.Second, PartHoldBack: 600 * time.Millisecond},
		PartTarget:    200 * time.Millisecond,
		Parts:         parts(110, 2),
		PreloadHint:   &playlist.PreloadHint{URI: "p110.2.m4s"},
	}
	for i := range 10 {
		s := playlist.Segment{URI: strconv.Itoa(100+i) + ".m4s", Duration: 2 * time.Second, Map: "init.mp4",
			DateTime: llT0.Add(time.Duration(i) * 2 * time.Second)}
		if i >= 8 {
			s.Parts = parts(100+i, 10)
		}
		m.Segments = append(m.Segments, s)
	}
	return m
}

func TestCheckMediaPlaylist_lowLatency(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(m *playlist.Media)
		wantErr string
		warn    string
	}{
		{"valid", func(*playlist.Media) {}, "", ""},
		{"part hold back only twice", func(m *playlist.Media) { m.ServerControl.PartHoldBack = 400 * time.Millisecond },
			"", "recommended three times"},
		{"short last parts and gaps are exempt", func(m *playlist.Media) {
			m.Segments[9].Parts[9].Duration = 50 * time.Millisecond
			m.Segments[9].Parts[3].Duration = 50 * time.Millisecond
			m.Segments[9].Parts[4].Gap = true
			m.Parts[1].Duration = 10 * time.Millisecond
		}, "", ""},
		{"parts without PART-INF", func(m *playlist.Media) { m.PartTarget = 0 }, "no #EXT-X-PART-INF", ""},
		{"hint without PART-INF", func(m *playlist.Media) {
			m.PartTarget = 0
			for i := range m.Segments {
				m.Segments[i].Parts = nil
			}
			m.Parts = nil
		}, "no #EXT-X-PART-INF", ""},
		{"parts without PART-HOLD-BACK", func(m *playlist.Media) { m.ServerControl.PartHoldBack = 0 }, "no PART-HOLD-BACK", ""},
		{"part hold back too small", func(m *playlist.Media) { m.ServerControl.PartHoldBack = 399 * time.Millisecond }, "less than twice PART-TARGET", ""},
		{"part longer than target", func(m *playlist.Media) { m.Segments[8].Parts[2].Duration = 201 * time.Millisecond }, "more than PART-TARGET", ""},
		{"independent part longer than target", func(m *playlist.Media) { m.Parts[0].Duration = 250 * time.Millisecond }, "more than PART-TARGET", ""},
		{"part under 85 percent", func(m *playlist.Media) { m.Segments[8].Parts[2].Duration = 169 * time.Millisecond }, "less than 85%", ""},
		{"first part not independent", func(m *playlist.Media) { m.Segments[9].Parts[0].Independent = false }, "not INDEPENDENT=YES", ""},
		{"in-progress first part not independent", func(m *playlist.Media) { m.Parts[0].Independent = false }, "not INDEPENDENT=YES", ""},
		{"hint in a finished playlist", func(m *playlist.Media) { m.Ended = true }, "PRELOAD-HINT in a playlist with #EXT-X-ENDLIST", ""},
		{"skip boundary too short", func(m *playlist.Media) { m.ServerControl.CanSkipUntil = 11 * time.Second }, "six target durations", ""},
		{"hold back too short", func(m *playlist.Media) { m.ServerControl.HoldBack = 5 * time.Second }, "three target durations", ""},
		{"delta update", func(m *playlist.Media) { m.Skipped, m.MediaSequence = 2, 98 }, "", ""},
		{"skip without CAN-SKIP-UNTIL", func(m *playlist.Media) { m.Skipped = 2; m.ServerControl.CanSkipUntil = 0 }, "without CAN-SKIP-UNTIL", ""},
		{"skip within the boundary", func(m *playlist.Media) { m.Skipped = 2; m.Segments = m.Segments[6:] }, "do not reach back to the skip boundary", ""},
		{"skip with version 9 given", func(m *playlist.Media) { m.Skipped = 2; m.Version = 9 }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := llMedia()
			tt.edit(m)
			body, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			p, err := CheckMediaPlaylist(body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q\n%s", err, tt.wantErr, body)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, body)
			}
			if w := strings.Join(p.Warnings, "; "); (tt.warn == "") != (w == "") || !strings.Contains(w, tt.warn) {
				t.Fatalf("warnings %q, want %q", w, tt.warn)
			}
			if first := p.Segments[0].Seq; first != m.MediaSequence+m.Skipped {
				t.Fatalf("first segment has sequence %d, want %d", first, m.MediaSequence+m.Skipped)
			}
		})
	}
}

// TestCheckMediaPlaylist_versionForSkip: a hand-written delta update that
// says version 6 is refused (the writer would have written 9).
func TestCheckMediaPlaylist_versionForSkip(t *testing.T) {
	m := llMedia()
	m.Skipped, m.MediaSequence = 2, 98
	body, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	body = []byte(strings.Replace(string(body), "#EXT-X-VERSION:9", "#EXT-X-VERSION:6", 1))
	if _, err := CheckMediaPlaylist(body); err == nil || !strings.Contains(err.Error(), "VERSION 9") {
		t.Fatalf("error %v, want one about EXT-X-VERSION 9", err)
	}
}

// TestTracker_deltaUpdate: a delta update keeps the sequence numbers of
// the full playlist, so the tracker accepts it after the full one and
// refuses one whose SKIPPED-SEGMENTS shifts the segments.
func TestTracker_deltaUpdate(t *testing.T) {
	full, err := llMedia().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	delta := llMedia()
	delta.Skipped, delta.Segments = 3, delta.Segments[3:]
	good, err := delta.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	delta.Skipped = 4
	shifted, err := delta.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var tr Tracker
	if err := tr.Next(full); err != nil {
		t.Fatal(err)
	}
	if err := tr.Next(good); err != nil {
		t.Fatalf("delta update refused: %v", err)
	}
	var tr2 Tracker
	if err := tr2.Next(full); err != nil {
		t.Fatal(err)
	}
	if err := tr2.Next(shifted); err == nil {
		t.Fatal("a delta update with a wrong SKIPPED-SEGMENTS was accepted")
	}
}
