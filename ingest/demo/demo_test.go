package demo

import (
	"testing"
	"time"

	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
)

func TestParseClip_Embedded(t *testing.T) {
	if len(clip) > 2<<20 {
		t.Fatalf("embedded clip is %d bytes; keep it under 2 MB", len(clip))
	}
	tracks, units, period, err := parseClip(clip)
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 {
		t.Fatalf("tracks = %d, want video + audio", len(tracks))
	}
	if _, ok := tracks[0].Codec.(*mp4codecs.H264); !ok {
		t.Fatalf("track 0 is %s, want H264", tracks[0].CodecName())
	}
	if _, ok := tracks[1].Codec.(*mp4codecs.MPEG4Audio); !ok {
		t.Fatalf("track 1 is %s, want AAC", tracks[1].CodecName())
	}
	if period < 9*time.Second || period > 11*time.Second {
		t.Fatalf("period = %s, want about 10 s", period)
	}
	var keys, video, audio int
	var last time.Duration = -1
	for _, u := range units {
		if u.DTS < last {
			t.Fatalf("units not in DTS order: %s after %s", u.DTS, last)
		}
		last = u.DTS
		if u.DTS >= period {
			t.Fatalf("unit at %s beyond the loop period %s", u.DTS, period)
		}
		if tracks[u.Track].IsVideo() {
			video++
			if u.RandomAccess {
				keys++
			}
		} else {
			audio++
		}
	}
	if video != 300 || keys != 5 {
		t.Fatalf("video frames = %d, keyframes = %d; want 300 frames with a keyframe every 2 s", video, keys)
	}
	if audio < 400 {
		t.Fatalf("audio frames = %d, want ~468 (10 s of 48 kHz AAC)", audio)
	}
	for _, u := range units {
		if tracks[u.Track].IsVideo() {
			if !u.RandomAccess {
				t.Fatal("the first video frame is not a keyframe: players could not start")
			}
			break
		}
	}
}

func TestSource_PublishesAndYields(t *testing.T) {
	reg := &stream.Registry{}
	if err := reg.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	got := make(chan stream.Event, 4096)
	unsub := reg.Subscribe("test", func(ev stream.Event) {
		select {
		case got <- ev:
		default:
		}
	})
	defer unsub()
	src := &Source{Registry: reg}
	if err := src.Initialize(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	var starts, units int
	for units < 30 {
		select {
		case ev := <-got:
			if ev.Start != nil {
				starts++
				if ev.Start.Stage != "main" || ev.Start.Source != "demo" {
					t.Fatalf("start = %+v", ev.Start)
				}
			}
			if ev.Unit != nil {
				units++
			}
		case <-deadline:
			t.Fatalf("only %d units in 10 s", units)
		}
	}
	src.Close()
	if starts != 1 {
		t.Fatalf("starts = %d, want 1", starts)
	}
	if reg.Live("main") {
		t.Fatal("stage still live after Close")
	}
}
