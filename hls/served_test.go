package hls

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/salon/salon/hls/hlscheck"
	"github.com/salon/salon/ingest/stream"
)

func TestManager_window(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "av.mp4", append(append(videoIn("8"), audioIn()...), "-t", "8", "-c:v", "libx264", "-g", "15", "-c:a", "aac")...))
	// Publishes alternate between two resolutions, so that each needs a new
	// init segment and a discontinuity.
	small := load(t, encode(t, "av-small.mp4", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-t", "8",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "8", "-c:v", "libx264", "-g", "15", "-c:a", "aac"))
	m := newTestManager(t, &Manager{SegmentDuration: time.Second, Window: 3 * time.Second})

	var tr hlscheck.Tracker
	var last []byte
	seen := map[string]bool{}
	var order []string
	// An ended context: File returns at once when there is no playlist yet.
	noWait, cancel := context.WithCancel(context.Background())
	cancel()
	check := func() {
		t.Helper()
		body, _, ok := m.File(noWait, "main", PlaylistName)
		if !ok || bytes.Equal(body, last) {
			return
		}
		last = body
		if err := tr.Next(body); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		for _, s := range tr.Added() {
			if !seen[s.URI] {
				seen[s.URI] = true
				order = append(order, s.URI)
			}
			get(t, m, "main", s.URI)
			get(t, m, "main", s.Map)
		}
	}
	for i, start := range []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		md := md
		if i == 1 {
			md = small
		}
		m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: md.tracks, Start: start}})
		for _, u := range md.units {
			c := *u
			c.Received = start.Add(u.DTS)
			m.HandleEvent(stream.Event{Stage: "main", Unit: &c})
			check()
		}
		m.HandleEvent(stream.Event{Stage: "main", End: true})
		check()
		if i == 0 && tr.Playlist().MediaSequence == 0 {
			t.Fatal("the window did not slide")
		}
	}
	pl := tr.Playlist()
	if pl.DiscontinuitySequence == 0 {
		t.Error("no discontinuity slid out of the window")
	}
	if pl.Duration() < 3 || pl.Duration() > 5 {
		t.Errorf("window holds %.3fs, want 3s to 4s", pl.Duration())
	}

	// Segments that left the window stay for one more window, then are gone.
	listed := map[string]bool{}
	for _, u := range pl.URIs() {
		listed[u] = true
	}
	var out []string
	for _, u := range order {
		if !listed[u] {
			out = append(out, u)
		}
	}
	if len(out) < 8 {
		t.Fatalf("only %d segments left the window", len(out))
	}
	if _, _, ok := m.File(context.Background(), "main", out[len(out)-1]); !ok {
		t.Errorf("%s left the window last but is already gone", out[len(out)-1])
	}
	if _, _, ok := m.File(context.Background(), "main", out[0]); ok {
		t.Errorf("%s left the window long ago but is still served", out[0])
	}
	if _, _, ok := m.File(context.Background(), "main", "init-0.mp4"); ok {
		t.Error("init-0.mp4 of the first run is still served")
	}
	if _, _, ok := m.File(context.Background(), "main", pl.Segments[len(pl.Segments)-1].Map); !ok {
		t.Error("the current init segment is not served")
	}
}

func TestManager_File(t *testing.T) {
	requireFFmpeg(t)
	md := load(t, encode(t, "v.mp4", append(videoIn("3"), "-c:v", "libx264", "-g", "30")...))
	m := newTestManager(t, &Manager{})
	ctx := context.Background()

	if _, _, ok := m.File(ctx, "nope", PlaylistName); ok {
		t.Error("unknown stage: ok")
	}
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: md.tracks, Start: t0}})

	// Live without a segment: File waits, and gives up with its context.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, _, ok := m.File(short, "main", PlaylistName); ok {
		t.Error("playlist served before any segment")
	}
	cancel()

	type result struct {
		body []byte
		ct   string
		ok   bool
	}
	res := make(chan result, 1)
	go func() {
		b, ct, ok := m.File(ctx, "main", PlaylistName)
		res <- result{b, ct, ok}
	}()
	// Feed up to the second keyframe: that closes the first segment.
	keys := 0
	for _, u := range md.units {
		if u.RandomAccess {
			keys++
		}
		c := *u
		c.Received = t0.Add(u.DTS)
		m.HandleEvent(stream.Event{Stage: "main", Unit: &c})
		if keys == 2 {
			break
		}
	}
	var r result
	select {
	case r = <-res:
	case <-time.After(30 * time.Second):
		t.Fatal("File still waiting after the first segment was ready")
	}
	if !r.ok || r.ct != ContentTypePlaylist {
		t.Fatalf("File = ok %v, content type %q", r.ok, r.ct)
	}
	pl, err := hlscheck.CheckMediaPlaylist(r.body)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
	if len(pl.Segments) != 1 || math.Abs(pl.Segments[0].Duration-1) > 0.01 {
		t.Errorf("first playlist lists %v, want one 1s segment (one GOP)", pl.Segments)
	}
	for name, want := range map[string]string{"init-0.mp4": ContentTypeInit, "0.m4s": ContentTypeSegment} {
		if _, ct, ok := m.File(ctx, "main", name); !ok || ct != want {
			t.Errorf("File(%s) = %q, %v", name, ct, ok)
		}
	}
	for _, name := range []string{"1.m4s", "init-1.mp4", "../x", ""} {
		if _, _, ok := m.File(ctx, "main", name); ok {
			t.Errorf("File(%q) ok", name)
		}
	}

	// A publish that ends before any segment wakes waiters with ok=false.
	m.HandleEvent(stream.Event{Stage: "b", Start: &stream.Stream{Stage: "b", Tracks: md.tracks, Start: t0}})
	go func() {
		b, ct, ok := m.File(ctx, "b", PlaylistName)
		res <- result{b, ct, ok}
	}()
	m.HandleEvent(stream.Event{Stage: "b", End: true})
	select {
	case r = <-res:
		if r.ok {
			t.Error("stage b: playlist served without segments")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("File still waiting after the publish ended")
	}

	// Close wakes waiters too.
	m.HandleEvent(stream.Event{Stage: "c", Start: &stream.Stream{Stage: "c", Tracks: md.tracks, Start: t0}})
	go func() {
		b, ct, ok := m.File(ctx, "c", PlaylistName)
		res <- result{b, ct, ok}
	}()
	m.Close()
	select {
	case r = <-res:
		if r.ok {
			t.Error("stage c: playlist served after Close")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("File still waiting after Close")
	}
}
