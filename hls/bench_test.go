package hls

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
)

// BenchmarkManager_HandleEvent measures the remux cost of a 1080p30-like
// publish: a 200 kB keyframe every 2 s, 40 kB frames between (about 10 Mbit/s),
// and 48 kHz AAC. The payloads are random bytes behind real NALU headers: the
// segmenter never decodes them. Each op is one unit.
func BenchmarkManager_HandleEvent(b *testing.B) {
	for _, bc := range []struct {
		name string
		part time.Duration
	}{{"classic", 0}, {"parts-200ms", 200 * time.Millisecond}} {
		b.Run(bc.name, func(b *testing.B) { benchmarkHandleEvent(b, bc.part) })
	}
}

// benchmarkHandleEvent feeds the publish to a Manager with parts of part
// (0: classic). Nobody asks for the playlist, as on a stage with no viewers.
func benchmarkHandleEvent(b *testing.B, part time.Duration) {
	requireFFmpeg(b)
	ref := load(b, encode(b, "sps.mp4", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-frames:v", "1", "-c:v", "libx264"))
	h264c := ref.tracks[0].Codec.(*mp4codecs.H264)
	tracks := []*stream.Track{
		{Codec: &mp4codecs.H264{SPS: h264c.SPS, PPS: h264c.PPS}},
		{Codec: &mp4codecs.MPEG4Audio{Config: aacConfig48k()}},
	}

	rng := rand.New(rand.NewPCG(1, 2))
	payload := func(n int, header byte) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		p[0] = header
		return p
	}
	idr := [][]byte{payload(200_000, 0x65)}
	nonIDR := [][]byte{payload(40_000, 0x41)}
	aac := [][]byte{payload(400, 0x21)}

	// One GOP (2 s) of units in arrival order, repeated with growing timestamps.
	const frame = time.Second / 30
	const audioFrame = 1024 * time.Second / 48000
	var gop []*stream.Unit
	var audioT time.Duration
	for i := range 60 {
		dts := time.Duration(i) * frame
		u := &stream.Unit{Track: 0, DTS: dts, PTS: dts + 2*frame, RandomAccess: i == 0, AU: nonIDR}
		if i == 0 {
			u.AU = idr
		}
		gop = append(gop, u)
		for audioT < dts+frame {
			gop = append(gop, &stream.Unit{Track: 1, DTS: audioT, PTS: audioT, RandomAccess: true, AU: aac})
			audioT += audioFrame
		}
	}
	const gopDur = 60 * frame

	m := &Manager{Window: 30 * time.Second, PartDuration: part}
	if err := m.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	start := time.Now()
	m.HandleEvent(stream.Event{Stage: "main", Start: &stream.Stream{Stage: "main", Tracks: tracks, Start: start}})

	units := make([]stream.Unit, len(gop))
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(gop)
		if k == 0 {
			// A fresh copy of the GOP, later by one GOP per round.
			off := time.Duration(i/len(gop)) * gopDur
			for j, u := range gop {
				units[j] = *u
				units[j].DTS += off
				units[j].PTS += off
				units[j].Received = start.Add(units[j].DTS)
			}
		}
		bytes += int64(units[k].Size())
		m.HandleEvent(stream.Event{Stage: "main", Unit: &units[k]})
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "units/s")
	b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
	// Real time is 30 video + 46.9 audio units per second.
	b.ReportMetric(float64(b.N)/sec/(30+48000.0/1024), "x_realtime")
}

func aacConfig48k() mpeg4audio.AudioSpecificConfig {
	return mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 2}
}
