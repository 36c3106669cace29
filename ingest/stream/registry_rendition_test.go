package stream

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func renditionStream(stage, rendition string) *Stream {
	s := videoStream(stage)
	s.Rendition = rendition
	return s
}

func TestRegistry_PublishRendition(t *testing.T) {
	cases := []struct {
		name      string
		rendition string
		wantErr   string
	}{
		{"rendition", "360p", ""},
		{"digits and dash", "low-1", ""},
		{"32 chars", strings.Repeat("a", 32), ""},
		{"33 chars", strings.Repeat("a", 33), "invalid rendition"},
		{"uppercase", "HD", "invalid rendition"},
		{"slash", "a/b", "invalid rendition"},
		{"reserved source", "source", "invalid rendition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t, 16)
			src, err := r.Publish(videoStream("main"))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			p, err := r.Publish(renditionStream("main", tc.rendition))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Publish = %v, want error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("a rendition beside the source: %v", err)
			}
			defer p.Close()
			if !r.PathLive("main", tc.rendition) || !r.PathLive("main", "") {
				t.Fatal("both publish paths should be live")
			}
		})
	}
}

func TestRegistry_RenditionBusy(t *testing.T) {
	r := newTestRegistry(t, 16)
	first, err := r.Publish(renditionStream("main", "360p"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Publish(renditionStream("main", "360p"))
	if !errors.Is(err, ErrStageBusy) || !strings.Contains(err.Error(), "rendition \"360p\"") {
		t.Fatalf("second publisher on a live rendition: %v, want ErrStageBusy naming the rendition", err)
	}
	// The source and another rendition are free paths.
	for _, rend := range []string{"", "720p"} {
		p, err := r.Publish(renditionStream("main", rend))
		if err != nil {
			t.Fatalf("rendition %q: %v", rend, err)
		}
		defer p.Close()
	}
	first.Close()
	if r.PathLive("main", "360p") || !r.Live("main") {
		t.Fatal("the rendition's path should be free and the stage (its source) still live")
	}
	again, err := r.Publish(renditionStream("main", "360p"))
	if err != nil {
		t.Fatalf("republish after the first left: %v", err)
	}
	again.Close()
}

func TestRegistry_RenditionEvents(t *testing.T) {
	r := newTestRegistry(t, 16)
	var c collector
	defer r.Subscribe("test", c.fn)()
	p, err := r.Publish(renditionStream("main", "360p"))
	if err != nil {
		t.Fatal(err)
	}
	p.WriteUnit(&Unit{Track: 0, RandomAccess: true, AU: [][]byte{{5}}})
	p.Close()
	waitFor(t, "three events", func() bool { return len(c.snapshot()) == 3 })
	for i, ev := range c.snapshot() {
		if ev.Stage != "main" || ev.Rendition != "360p" {
			t.Fatalf("event %d: stage %q rendition %q, want main/360p", i, ev.Stage, ev.Rendition)
		}
	}
	// A reader that subscribes later is told of the live rendition.
	p2, err := r.Publish(renditionStream("main", "360p"))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	var late collector
	defer r.Subscribe("late", late.fn)()
	waitFor(t, "the start", func() bool { return len(late.snapshot()) == 1 })
	if ev := late.snapshot()[0]; ev.Start == nil || ev.Rendition != "360p" {
		t.Fatalf("late reader got %+v", ev)
	}
}

func TestRegistry_StagesRenditions(t *testing.T) {
	r := newTestRegistry(t, 16)
	src, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if info := r.Stages()[0]; len(info.Renditions) != 0 {
		t.Fatalf("a stage with only its source lists renditions: %+v", info.Renditions)
	}
	low, err := r.Publish(renditionStream("main", "360p"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 20 {
		low.WriteUnit(&Unit{Track: 0, DTS: time.Duration(i) * 40 * time.Millisecond, Received: now.Add(time.Duration(i-20) * 50 * time.Millisecond), RandomAccess: i == 0, AU: [][]byte{make([]byte, 1000)}})
	}
	r.SetRenditionWarning("main", "360p", "align", Warn("hls.align_keyframes", "Boundary", "2.000"))
	info := r.Stages()[0]
	if len(info.Renditions) != 2 || info.Renditions[0].Name != "source" || info.Renditions[1].Name != "360p" {
		t.Fatalf("renditions = %+v, want source then 360p", info.Renditions)
	}
	lr := info.Renditions[1]
	if !lr.Live || lr.Codec != "H264" || lr.Bitrate <= 0 || len(lr.Warnings) != 1 {
		t.Fatalf("360p = %+v, want live H264 with a bitrate and one warning", lr)
	}
	if want := (Warning{Code: "hls.align_keyframes", Params: map[string]string{"Boundary": "2.000"}, Rendition: "360p"}); len(info.Warnings) != 1 || !info.Warnings[0].Equal(want) {
		t.Fatalf("stage warnings = %+v, want %+v", info.Warnings, want)
	}
	low.Close()
	info = r.Stages()[0]
	if !info.Live || info.Renditions[1].Live || info.Renditions[1].LastSeen == nil {
		t.Fatalf("after the rendition left: %+v", info)
	}
	// A stage is live when its source is: a rendition alone is not
	// served.
	src.Close()
	p, err := r.Publish(renditionStream("main", "360p"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r.Live("main") || !r.PathLive("main", "360p") {
		t.Fatal("a rendition without its source makes the stage live")
	}
	if info := r.Stages()[0]; info.Live || !info.Renditions[1].Live {
		t.Fatalf("stage info %+v: want the stage offline and its rendition live", info)
	}
}

func TestRegistry_RenditionLimits(t *testing.T) {
	r := newTestRegistry(t, 16)
	var pubs []*Publisher
	for i := range MaxLiveRenditions {
		p, err := r.Publish(renditionStream("main", "r"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, p)
	}
	if _, err := r.Publish(renditionStream("main", "one-more")); err == nil || !strings.Contains(err.Error(), "renditions live") {
		t.Fatalf("rendition beyond %d live: %v", MaxLiveRenditions, err)
	}
	if p, err := r.Publish(videoStream("main")); err != nil {
		t.Fatalf("the source is not a rendition: %v", err)
	} else {
		p.Close()
	}
	for _, p := range pubs {
		p.Close()
	}
	for i := MaxLiveRenditions; i < MaxRenditionNames; i++ {
		p, err := r.Publish(renditionStream("main", "r"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	if _, err := r.Publish(renditionStream("main", "new-name")); err == nil || !strings.Contains(err.Error(), "rendition names") {
		t.Fatalf("rendition name beyond %d: %v", MaxRenditionNames, err)
	}
	if p, err := r.Publish(renditionStream("main", "r0")); err != nil {
		t.Fatalf("a known name: %v", err)
	} else {
		p.Close()
	}
}
