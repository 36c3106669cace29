// Package demo publishes a short clip embedded in the binary, looping, so a
// newcomer sees moving video and hears audio without owning an encoder.
package demo

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/salon/salon/ingest/stream"
)

//go:embed clip.mp4
var clip []byte

type publishRegistry interface {
	Publish(*stream.Stream) (*stream.Publisher, error)
}

// Source loops a fragmented MP4 onto a stage at real-time pace. When the stage
// is taken by a real publisher it waits and tries again.
type Source struct {
	Stage    string // default "main"
	Registry publishRegistry
	Log      *slog.Logger
	// Clip is a fragmented MP4 with H.264/H.265 and AAC/Opus tracks; default: the embedded clip.
	Clip []byte

	tracks []*stream.Track
	units  []*stream.Unit // sorted by DTS, one loop
	period time.Duration  // length of one loop

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Initialize parses the clip and starts publishing.
func (s *Source) Initialize() error {
	if s.Stage == "" {
		s.Stage = "main"
	}
	if s.Clip == nil {
		s.Clip = clip
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	var err error
	s.tracks, s.units, s.period, err = parseClip(s.Clip)
	if err != nil {
		return fmt.Errorf("demo clip: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.run(ctx)
	return nil
}

// Close stops publishing and waits.
func (s *Source) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Source) run(ctx context.Context) {
	defer s.wg.Done()
	warned := false
	for {
		pub, err := s.Registry.Publish(&stream.Stream{Stage: s.Stage, Tracks: s.tracks, Source: "demo", Remote: "built-in clip"})
		if err == nil {
			warned = false
			s.Log.Info("demo stream publishing", "stage", s.Stage)
			s.play(ctx, pub)
			pub.Close()
		} else if !warned {
			warned = true
			s.Log.Info("demo stream waiting: stage is busy", "stage", s.Stage, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// play writes the clip in a loop until ctx ends, pacing units by DTS.
func (s *Source) play(ctx context.Context, pub *stream.Publisher) {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for loop := time.Duration(0); ; loop += s.period {
		for _, u := range s.units {
			due := start.Add(loop + u.DTS)
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return
			}
			pub.WriteUnit(&stream.Unit{
				Track: u.Track, PTS: loop + u.PTS, DTS: loop + u.DTS,
				RandomAccess: u.RandomAccess, AU: u.AU, Received: time.Now(),
			})
		}
	}
}

func parseClip(b []byte) ([]*stream.Track, []*stream.Unit, time.Duration, error) {
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(b)); err != nil {
		return nil, nil, 0, fmt.Errorf("read init: %w", err)
	}
	byID := map[int]int{}
	scales := map[int]uint32{}
	var tracks []*stream.Track
	for _, it := range init.Tracks {
		switch it.Codec.(type) {
		case *mp4codecs.H264, *mp4codecs.H265, *mp4codecs.MPEG4Audio, *mp4codecs.Opus:
		default:
			return nil, nil, 0, fmt.Errorf("track %d: unsupported codec %s", it.ID, stream.CodecName(it.Codec))
		}
		byID[it.ID] = len(tracks)
		scales[it.ID] = it.TimeScale
		tracks = append(tracks, &stream.Track{Codec: it.Codec})
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return nil, nil, 0, fmt.Errorf("read fragments: %w", err)
	}
	ticks := func(v int64, scale uint32) time.Duration {
		return time.Duration(v * int64(time.Second) / int64(scale))
	}
	var units []*stream.Unit
	var videoEnd time.Duration
	for _, p := range parts {
		for _, pt := range p.Tracks {
			idx, ok := byID[pt.ID]
			if !ok {
				continue
			}
			scale := scales[pt.ID]
			dts := int64(pt.BaseTime)
			for _, smp := range pt.Samples {
				u := &stream.Unit{
					Track:        idx,
					DTS:          ticks(dts, scale),
					PTS:          ticks(dts+int64(smp.PTSOffset), scale),
					RandomAccess: !smp.IsNonSyncSample,
				}
				switch tracks[idx].Codec.(type) {
				case *mp4codecs.H264:
					au, err := smp.GetH264()
					if err != nil {
						return nil, nil, 0, fmt.Errorf("track %d: %w", pt.ID, err)
					}
					u.AU = au
					// fMP4 writers often leave sync flags to defaults that the
					// reader does not see: ask the NALUs instead.
					u.RandomAccess = h264.IsRandomAccess(au)
				case *mp4codecs.H265:
					au, err := smp.GetH265()
					if err != nil {
						return nil, nil, 0, fmt.Errorf("track %d: %w", pt.ID, err)
					}
					u.AU = au
					u.RandomAccess = h265.IsRandomAccess(au)
				default:
					u.AU = [][]byte{smp.Payload}
					u.RandomAccess = true
				}
				dts += int64(smp.Duration)
				if tracks[idx].IsVideo() {
					videoEnd = max(videoEnd, ticks(dts, scale))
				}
				units = append(units, u)
			}
		}
	}
	if len(units) == 0 {
		return nil, nil, 0, errors.New("no samples")
	}
	period := videoEnd
	if period == 0 { // audio-only clip
		for _, u := range units {
			period = max(period, u.DTS)
		}
	}
	// One loop is exactly the video's length: audio that runs past it would
	// overlap the next loop's first frames.
	kept := units[:0]
	for _, u := range units {
		if u.DTS < period {
			kept = append(kept, u)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].DTS < kept[j].DTS })
	return tracks, kept, period, nil
}
