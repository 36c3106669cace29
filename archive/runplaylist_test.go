package archive

import (
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
)

var recT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func TestRenderRunPlaylist(t *testing.T) {
	seg := func(seq uint64, dur time.Duration, init string) segRecord {
		return segRecord{Seq: seq, Duration: dur, Start: recT0.Add(time.Duration(seq) * 2 * time.Second), Init: init}
	}
	tests := []struct {
		name    string
		segs    []segRecord
		ended   bool
		want    []string // lines that must appear, in order
		target  int
		discAt  []string
		maps    []string
		endList bool
	}{
		{
			name:   "open run is EVENT",
			segs:   []segRecord{seg(17, 2*time.Second, "init-0.mp4"), seg(18, 2033333333, "init-0.mp4")},
			want:   []string{"#EXT-X-VERSION:7", "#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-MEDIA-SEQUENCE:17", `#EXT-X-MAP:URI="init-0.mp4"`, "#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:34.000Z", "#EXTINF:2.000,", "17.m4s", "#EXTINF:2.033,", "18.m4s"},
			target: 2,
			maps:   []string{"init-0.mp4"},
		},
		{
			name:    "ended run is VOD with ENDLIST",
			segs:    []segRecord{seg(0, 2*time.Second, "init-0.mp4")},
			ended:   true,
			want:    []string{"#EXT-X-PLAYLIST-TYPE:VOD", "0.m4s", "#EXT-X-ENDLIST"},
			target:  2,
			maps:    []string{"init-0.mp4"},
			endList: true,
		},
		{
			name:   "new init mid-run",
			segs:   []segRecord{seg(3, 2*time.Second, "init-1.mp4"), seg(4, 2*time.Second, "init-1.mp4"), seg(5, 4500*time.Millisecond, "init-2.mp4")},
			want:   []string{"4.m4s", "#EXT-X-DISCONTINUITY", `#EXT-X-MAP:URI="init-2.mp4"`, "#EXTINF:4.500,", "5.m4s"},
			target: 5,
			discAt: []string{"5.m4s"},
			maps:   []string{"init-1.mp4", "init-2.mp4"},
		},
		{
			name:   "target rounds the written EXTINF",
			segs:   []segRecord{seg(0, 2499600*time.Microsecond, "init-0.mp4")},
			want:   []string{"#EXT-X-TARGETDURATION:3", "#EXTINF:2.500,"},
			target: 3,
			maps:   []string{"init-0.mp4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := renderRunPlaylist(tt.segs, tt.ended)
			if err != nil {
				t.Fatal(err)
			}
			pl, err := hlscheck.CheckMediaPlaylist(body)
			if err != nil {
				t.Fatalf("invalid playlist: %v\n%s", err, body)
			}
			rest := string(body)
			for _, w := range tt.want {
				i := strings.Index(rest, w+"\n")
				if i < 0 {
					t.Fatalf("%q missing (or out of order) in\n%s", w, body)
				}
				rest = rest[i+len(w):]
			}
			if pl.TargetDuration != tt.target || pl.EndList != tt.endList || pl.Version != 7 {
				t.Errorf("target %d endlist %v version %d", pl.TargetDuration, pl.EndList, pl.Version)
			}
			var disc []string
			for _, s := range pl.Segments {
				if s.Discontinuity {
					disc = append(disc, s.URI)
				}
			}
			if strings.Join(disc, ",") != strings.Join(tt.discAt, ",") || strings.Join(pl.MapURIs(), ",") != strings.Join(tt.maps, ",") {
				t.Errorf("discontinuities %v maps %v", disc, pl.MapURIs())
			}
		})
	}
	if _, err := renderRunPlaylist(nil, true); err == nil {
		t.Error("empty run rendered")
	}
}

func TestParseRunLog(t *testing.T) {
	good := segRecord{Seq: 5, Duration: 2 * time.Second, Start: recT0, Init: "init-0.mp4"}
	log := encodeRunLog([]segRecord{good, {Seq: 4, Duration: time.Second, Start: recT0.Add(-time.Second), Init: "init-0.mp4"}}, false)
	tests := []struct {
		name  string
		data  string
		segs  int
		ended bool
		bad   int
	}{
		{"empty", "", 0, false, 0},
		{"two segments, sorted", string(log), 2, false, 0},
		{"ended", string(log) + `{"ended":true}` + "\n", 2, true, 0},
		{"torn last line", string(log) + `{"seg":{"seq":6,"dur`, 2, false, 1},
		{"duplicate seq", string(log) + string(runLogLine(runLine{Seg: &good})), 2, false, 1},
		{"bad init name", `{"seg":{"seq":1,"duration_ns":1,"start":"2026-03-01T10:00:00Z","init":"../x.mp4"}}`, 0, false, 1},
		{"negative duration", `{"seg":{"seq":1,"duration_ns":-1,"start":"2026-03-01T10:00:00Z","init":"init-0.mp4"}}`, 0, false, 1},
		{"no start", `{"seg":{"seq":1,"duration_ns":1,"init":"init-0.mp4"}}`, 0, false, 1},
		{"neither", `{}`, 0, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, ended, bad := parseRunLog([]byte(tt.data))
			if len(segs) != tt.segs || ended != tt.ended || bad != tt.bad {
				t.Fatalf("got %d segments, ended %v, %d bad; want %d, %v, %d", len(segs), ended, bad, tt.segs, tt.ended, tt.bad)
			}
			for i := 1; i < len(segs); i++ {
				if segs[i].Seq <= segs[i-1].Seq {
					t.Errorf("not sorted: %d after %d", segs[i].Seq, segs[i-1].Seq)
				}
			}
		})
	}
}

// FuzzParseRunLog: whatever a run log holds, reading it never panics, and
// what it yields renders to a valid playlist that reads back the same.
func FuzzParseRunLog(f *testing.F) {
	f.Add(encodeRunLog([]segRecord{{Seq: 5, Duration: 2 * time.Second, Start: recT0, Init: "init-0.mp4"}}, true))
	f.Add([]byte(`{"seg":{"seq":18446744073709551615,"duration_ns":3600000000000,"start":"9000-01-01T00:00:00.9999999Z","init":"init.mp4"}}`))
	f.Add([]byte(`{"seg":{"seq":4611686018427387903,"duration_ns":3600000000000,"start":"9000-01-01T00:00:00.9999999Z","init":"init.mp4"}}`))
	f.Add([]byte(`{"seg":{"seq":1,"duration_ns":1,"start":"1970-01-01T00:00:00Z","init":"init_a.b.mp4"}}` + "\n" + `{"seg":{"seq":0,"duration_ns":1,"start":"2026-01-01T00:00:00Z","init":"init-9.mp4"}}`))
	f.Add([]byte("{\"ended\":true}\n\x00garbage\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		segs, ended, _ := parseRunLog(data)
		if len(segs) == 0 {
			return
		}
		body, err := renderRunPlaylist(segs, ended)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := hlscheck.CheckMediaPlaylist(body)
		if err != nil {
			t.Fatalf("invalid playlist from %q: %v\n%s", data, err, body)
		}
		if len(pl.Segments) != len(segs) || pl.EndList != ended {
			t.Fatalf("playlist lists %d segments (endlist %v), log had %d (ended %v)", len(pl.Segments), pl.EndList, len(segs), ended)
		}
		again, ended2, bad := parseRunLog(encodeRunLog(segs, ended))
		if len(again) != len(segs) || ended2 != ended || bad != 0 {
			t.Fatalf("log does not read back: %d segments, %d bad", len(again), bad)
		}
	})
}

// The cut (cut_parse.go) reads what the recorder writes: every segment, with
// its init segment, start, duration and discontinuity.
func TestRenderRunPlaylist_readByCut(t *testing.T) {
	segs := []segRecord{
		{Seq: 7, Duration: 2 * time.Second, Start: recT0, Init: "init-0.mp4"},
		{Seq: 8, Duration: 1999 * time.Millisecond, Start: recT0.Add(2 * time.Second), Init: "init-0.mp4"},
		{Seq: 9, Duration: 2 * time.Second, Start: recT0.Add(4 * time.Second), Init: "init-1.mp4"},
	}
	body, err := renderRunPlaylist(segs, true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseRunPlaylist(body)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Ended || p.Skipped != 0 || len(p.Segments) != len(segs) {
		t.Fatalf("cut read %+v", p)
	}
	for i, s := range p.Segments {
		w := segs[i]
		if s.Name != segmentName(w.Seq) || s.Init != w.Init || !s.Start.Equal(w.Start) || s.Duration != w.Duration || s.Discontinuity != (i == 2) {
			t.Errorf("segment %d: cut read %+v, recorder wrote %+v", i, s, w)
		}
	}
}
