package hls

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/ingest/stream"
)

// synthSPS is a 1920x1080 H.264 SPS; the segmenter only reads its header.
var synthSPS = []byte{
	0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00,
	0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
}

// synthFeed makes units of a 30 fps H.264 video with a keyframe every gop
// frames and 48 kHz AAC, in arrival order, from frame `from` to `to`.
type synthFeed struct {
	gop        int
	audioT     time.Duration
	start      time.Time
	video, aac bool
}

func (f *synthFeed) tracks() []*stream.Track {
	var tr []*stream.Track
	if f.video {
		tr = append(tr, &stream.Track{Codec: &mp4codecs.H264{SPS: synthSPS, PPS: []byte{0x68, 0xce, 0x3c, 0x80}}})
	}
	if f.aac {
		tr = append(tr, &stream.Track{Codec: &mp4codecs.MPEG4Audio{Config: aacConfig48k()}})
	}
	return tr
}

const synthFrame = time.Second / 30

func (f *synthFeed) units(from, to int) []*stream.Unit {
	var out []*stream.Unit
	audioTrack := 0
	if f.video {
		audioTrack = 1
	}
	for i := from; i < to; i++ {
		dts := time.Duration(i) * synthFrame
		if f.video {
			key := i%f.gop == 0
			au := [][]byte{{0x41, byte(i), 0x01, 0x02}}
			if key {
				au = [][]byte{synthSPS, {0x68, 0xce, 0x3c, 0x80}, {0x65, byte(i), 0x03, 0x04, 0x05}}
			}
			out = append(out, &stream.Unit{Track: 0, DTS: dts, PTS: dts, RandomAccess: key, AU: au, Received: f.start.Add(dts)})
		}
		if f.aac {
			for f.audioT < dts+synthFrame {
				out = append(out, &stream.Unit{Track: audioTrack, DTS: f.audioT, PTS: f.audioT, RandomAccess: true,
					AU: [][]byte{{0x21, 0x10, byte(f.audioT / time.Millisecond)}}, Received: f.start.Add(f.audioT)})
				f.audioT += 1024 * time.Second / 48000
			}
		}
	}
	return out
}

func feed(m *Manager, stage string, units []*stream.Unit) {
	for _, u := range units {
		m.HandleEvent(stream.Event{Stage: stage, Unit: u})
	}
}

// parseLL reads a low-latency playlist with the playlist package.
func parseLL(t *testing.T, body []byte) *playlist.Media {
	t.Helper()
	m, err := playlist.ParseMedia(body)
	if err != nil {
		t.Fatalf("parse playlist: %v\n%s", err, body)
	}
	return m
}

func hintURI(m *playlist.Media) string {
	if m.PreloadHint == nil {
		return ""
	}
	return m.PreloadHint.URI
}

// TestManager_parts cuts a synthetic 30 fps stream (1 s GOP) into 2 s
// segments of 200 ms parts and checks the parts against the segments.
func TestManager_parts(t *testing.T) {
	var sink sinkRecorder
	m := newTestManager(t, &Manager{PartDuration: 200 * time.Millisecond, Sink: &sink})
	f := &synthFeed{gop: 30, start: t0, video: true, aac: true}
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: f.tracks(), Start: t0}})
	feed(m, "main", f.units(0, 30*9+10))

	body := get(t, m, "main", PlaylistName)
	pl, err := hlscheck.CheckMediaPlaylist(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	ll := parseLL(t, body)
	if ll.PartTarget != 200*time.Millisecond {
		t.Errorf("PART-TARGET %v, want 200ms\n%s", ll.PartTarget, body)
	}
	if sc := ll.ServerControl; sc == nil || !sc.CanBlockReload || sc.PartHoldBack != 600*time.Millisecond || sc.CanSkipUntil != 12*time.Second {
		t.Errorf("EXT-X-SERVER-CONTROL %+v, want CAN-BLOCK-RELOAD, PART-HOLD-BACK 0.6 s, CAN-SKIP-UNTIL 12 s", sc)
	}
	// The first segment is cut at the first keyframe after a quarter of the
	// target (1 s), the next ones every 2 s.
	if len(pl.Segments) != 5 {
		t.Fatalf("%d segments after 9.3 s, want 5\n%s", len(pl.Segments), body)
	}
	// The segment in progress (from 9 s) has its first parts listed, and the
	// hint names the next one.
	open := ll.Parts
	if len(open) == 0 || open[0].URI != "5.0.m4s" || !open[0].Independent {
		t.Errorf("parts of the segment in progress: %+v", open)
	}
	if want := "5." + strconv.Itoa(len(open)) + ".m4s"; hintURI(ll) != want || ll.PreloadHint.Type != playlist.HintPart {
		t.Errorf("preload hint %+v, want %q", ll.PreloadHint, want)
	}
	segs := sink.segments()
	listedParts := 0
	for _, s := range ll.Segments {
		parts := s.Parts
		if len(parts) == 0 {
			continue
		}
		listedParts++
		var sum time.Duration
		var joined []byte
		for i, p := range parts {
			if want := strings.TrimSuffix(s.URI, ".m4s") + "." + strconv.Itoa(i) + ".m4s"; p.URI != want {
				t.Errorf("part %d of %s is %s, want %s", i, s.URI, p.URI, want)
			}
			if p.Duration > ll.PartTarget {
				t.Errorf("part %s lasts %v, more than PART-TARGET %v", p.URI, p.Duration, ll.PartTarget)
			}
			// Parts start at 0, 0.2, … 1.0 s into the segment: the keyframe
			// at 1 s starts an independent part.
			if want := i == 0 || i == 5; p.Independent != want {
				t.Errorf("part %s INDEPENDENT=%v, want %v", p.URI, p.Independent, want)
			}
			sum += p.Duration
			data := get(t, m, "main", p.URI)
			for _, fr := range segmentParts(t, data) {
				if len(fr.Tracks) == 0 {
					t.Errorf("part %s has an empty fragment", p.URI)
				}
			}
			joined = append(joined, data...)
		}
		if len(parts) != 10 {
			t.Errorf("segment %s has %d parts, want 10 of 200 ms", s.URI, len(parts))
		}
		if d := sum - s.Duration; d < -2*time.Millisecond || d > 2*time.Millisecond {
			t.Errorf("parts of %s last %s, EXTINF says %s", s.URI, sum, s.Duration)
		}
		if seg := get(t, m, "main", s.URI); !bytes.Equal(seg, joined) {
			t.Errorf("segment %s is not its parts joined (%d vs %d bytes)", s.URI, len(seg), len(joined))
		}
		for _, sg := range segs {
			if sg.Name == s.URI && !bytes.Equal(sg.Data, joined) {
				t.Errorf("the sink's %s is not its parts joined", s.URI)
			}
		}
	}
	// Parts are listed for the segments within three target durations (6 s)
	// of the end: the last three whole segments.
	if listedParts != 3 {
		t.Errorf("parts listed for %d segments, want 3\n%s", listedParts, body)
	}
	if _, _, ok := m.File(context.Background(), "main", "0.3.m4s"); ok {
		t.Error("a part two segments before the listed ones is still served")
	}

	// Every sample is in exactly one fragment of a segment, in order.
	var video []uint64
	for _, sg := range segs {
		for _, fr := range segmentParts(t, sg.Data) {
			for _, tr := range fr.Tracks {
				if tr.ID == 1 {
					tick := tr.BaseTime
					for _, s := range tr.Samples {
						video = append(video, tick)
						tick += uint64(s.Duration)
					}
				}
			}
		}
	}
	for i, tick := range video {
		if tick != uint64(i)*3000 {
			t.Fatalf("video sample %d at tick %d, want %d", i, tick, i*3000)
		}
	}
}

// TestManager_PlaylistBlocking drives blocking reloads and preload-hinted
// parts with a synthetic stream fed unit by unit.
func TestManager_PlaylistBlocking(t *testing.T) {
	m := newTestManager(t, &Manager{PartDuration: 200 * time.Millisecond})
	f := &synthFeed{gop: 60, start: t0, video: true, aac: true}
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: f.tracks(), Start: t0}})
	feed(m, "main", f.units(0, 70))
	ctx := context.Background()

	body, status := m.Playlist(ctx, "main", -1, -1, false)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	ll := parseLL(t, body)
	next := len(ll.Parts)
	hint := hintURI(ll)
	if hint != "1."+strconv.Itoa(next)+".m4s" {
		t.Fatalf("hint %q with %d parts in progress\n%s", hint, next, body)
	}

	tests := []struct {
		name      string
		msn, part int64
		want      int
	}{
		{"msn three segments ahead", 4, -1, http.StatusBadRequest},
		{"part beyond the advance limit", 1, int64(next + 16), http.StatusBadRequest},
		{"existing part", 1, 0, http.StatusOK},
		{"earlier segment", 0, 3, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, status := m.Playlist(ctx, "main", tt.msn, tt.part, false); status != tt.want {
				t.Errorf("Playlist(msn=%d, part=%d) = %d, want %d", tt.msn, tt.part, status, tt.want)
			}
		})
	}
	// A request that cannot be answered yet gives up with its context (503).
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, status = m.Playlist(short, "main", 1, int64(next), false)
	cancel()
	if status != http.StatusServiceUnavailable {
		t.Errorf("unanswerable blocking request: %d, want 503", status)
	}

	type answer struct {
		body []byte
		n    int
		ok   bool
	}
	reload := make(chan answer, 1)
	go func() {
		b, status := m.Playlist(ctx, "main", 1, int64(next), false)
		reload <- answer{body: b, n: status, ok: status == http.StatusOK}
	}()
	hinted := make(chan answer, 1)
	go func() {
		b, _, ok := m.File(ctx, "main", hint)
		hinted <- answer{body: b, ok: ok}
	}()
	// Feed frame by frame until both answered; the answers must hold what
	// they asked for.
	var gotReload, gotHint *answer
	for i := 70; i < 200 && (gotReload == nil || gotHint == nil); i++ {
		feed(m, "main", f.units(i, i+1))
		select {
		case a := <-reload:
			gotReload = &a
		case a := <-hinted:
			gotHint = &a
		default:
		}
	}
	if gotReload == nil {
		gotReload = &answer{}
		select {
		case a := <-reload:
			gotReload = &a
		case <-time.After(10 * time.Second):
		}
	}
	if gotHint == nil {
		gotHint = &answer{}
		select {
		case a := <-hinted:
			gotHint = &a
		case <-time.After(10 * time.Second):
		}
	}
	if !gotReload.ok || !bytes.Contains(gotReload.body, []byte(`URI="`+hint+`"`)) {
		t.Errorf("blocking reload for part %s: status %d, body\n%s", hint, gotReload.n, gotReload.body)
	}
	if !gotHint.ok {
		t.Errorf("the hinted part %s never came", hint)
	} else if frs := segmentParts(t, gotHint.body); len(frs) != 1 {
		t.Errorf("the hinted part has %d fragments, want 1", len(frs))
	}
}

// TestManager_PlaylistSkip checks delta updates once the playlist is longer
// than six target durations.
func TestManager_PlaylistSkip(t *testing.T) {
	m := newTestManager(t, &Manager{PartDuration: 200 * time.Millisecond})
	f := &synthFeed{gop: 60, start: t0, video: true}
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: f.tracks(), Start: t0}})
	feed(m, "main", f.units(0, 30*7))
	ctx := context.Background()
	// 6 s of segments: not enough to skip anything, the full playlist comes.
	body, _ := m.Playlist(ctx, "main", -1, -1, true)
	if bytes.Contains(body, []byte("#EXT-X-SKIP")) {
		t.Errorf("delta update of a short playlist:\n%s", body)
	}
	feed(m, "main", f.units(30*7, 30*25))
	full, _ := m.Playlist(ctx, "main", -1, -1, false)
	delta, _ := m.Playlist(ctx, "main", -1, -1, true)
	fp, err := hlscheck.CheckMediaPlaylist(full)
	if err != nil {
		t.Fatal(err)
	}
	dp, err := hlscheck.CheckMediaPlaylist(delta)
	if err != nil {
		t.Fatalf("%v\n%s", err, delta)
	}
	ll := parseLL(t, delta)
	if ll.Skipped == 0 || int(ll.Skipped)+len(dp.Segments) != len(fp.Segments) {
		t.Fatalf("skipped %d + %d listed, full playlist has %d\n%s", ll.Skipped, len(dp.Segments), len(fp.Segments), delta)
	}
	if dp.MediaSequence != fp.MediaSequence {
		t.Errorf("delta media sequence %d, full %d", dp.MediaSequence, fp.MediaSequence)
	}
	// Skipped segments start more than CAN-SKIP-UNTIL (12 s) before the end.
	var listed time.Duration
	for _, s := range ll.Segments {
		listed += s.Duration
	}
	for _, p := range ll.Parts {
		listed += p.Duration
	}
	if listed > 14*time.Second {
		t.Errorf("the delta update lists %s, more than CAN-SKIP-UNTIL plus one segment", listed)
	}
	if !bytes.Equal(dp.Segments[len(dp.Segments)-1].ProgramDateTime.AppendFormat(nil, time.RFC3339Nano),
		fp.Segments[len(fp.Segments)-1].ProgramDateTime.AppendFormat(nil, time.RFC3339Nano)) {
		t.Error("the last segment differs between the full and the delta playlist")
	}
	// The same snapshot is rendered once per form.
	again, _ := m.Playlist(ctx, "main", -1, -1, true)
	if &again[0] != &delta[0] {
		t.Error("the delta playlist was rendered twice for one snapshot")
	}
}

// TestManager_classicIgnoresQuery: without parts the playlist has no LL tag
// and blocking parameters are ignored.
func TestManager_classicIgnoresQuery(t *testing.T) {
	m := newTestManager(t, &Manager{})
	f := &synthFeed{gop: 60, start: t0, video: true, aac: true}
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: f.tracks(), Start: t0}})
	feed(m, "main", f.units(0, 30*5))
	body, status := m.Playlist(context.Background(), "main", 99, 3, true)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	for _, tag := range []string{"#EXT-X-PART", "#EXT-X-SERVER-CONTROL", "#EXT-X-PRELOAD-HINT", "#EXT-X-SKIP"} {
		if bytes.Contains(body, []byte(tag)) {
			t.Errorf("classic playlist has %s:\n%s", tag, body)
		}
	}
	segs := 0
	for _, s := range m.stages["main"].served.snap.entries {
		frs := segmentParts(t, get(t, m, "main", s.name))
		if len(frs) != 1 {
			t.Errorf("classic segment %s has %d fragments, want 1", s.name, len(frs))
		}
		segs++
	}
	if segs == 0 {
		t.Fatal("no segment")
	}
	var _ fmp4.Parts
}

// TestManager_hintsComeTrue: every part a playlist hints at is written
// before the hint moves on, including the last part of each segment and
// across the end of a publish.
func TestManager_hintsComeTrue(t *testing.T) {
	m := newTestManager(t, &Manager{SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond})
	f := &synthFeed{gop: 30, start: t0, video: true, aac: true}
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: f.tracks(), Start: t0}})
	prev, hints := "", 0
	for _, u := range f.units(0, 30*6+7) {
		m.HandleEvent(stream.Event{Stage: "main", Unit: u})
		snap, _, _ := m.stages["main"].served.playlist()
		if snap == nil || snap.hint == prev {
			continue
		}
		if prev != "" {
			hints++
			if data, _, _ := m.stages["main"].served.file(prev); data == nil {
				t.Fatalf("the playlist hinted at %s, then at %s, but %s was never written", prev, snap.hint, prev)
			}
		}
		prev = snap.hint
	}
	if hints < 20 {
		t.Fatalf("only %d hints moved on", hints)
	}
	m.HandleEvent(stream.Event{Stage: "main", End: true})
	snap, _, _ := m.stages["main"].served.playlist()
	if snap.hint != "" {
		t.Errorf("an offline stage hints at %s", snap.hint)
	}
	if data, _, _ := m.stages["main"].served.file(prev); data == nil {
		t.Errorf("the part hinted before the publish ended (%s) was not written", prev)
	}
}
