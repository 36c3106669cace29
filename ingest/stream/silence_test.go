package stream

import (
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// TestRegistry_SilentTrack: a track that sends nothing while another flows
// gets a stage warning (issue 13, finding 14: AAC that salon could not
// decode was listed with bitrate 0 and no word), which goes away when it
// flows again and at the end of the publish.
func TestRegistry_SilentTrack(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	frame := time.Second / 30
	cases := []struct {
		name      string
		audioFrom time.Duration // audio units from here on (-1: never)
		audioTill time.Duration
		at        time.Duration // when /api/stages is read
		want      string        // the warning's code, "" for none
		seconds   string        // its Seconds
	}{
		{"both flow", 0, 20 * time.Second, 10 * time.Second, "", ""},
		{"audio never comes", -1, 0, 10 * time.Second, "stream.audio_never", "5"},
		{"audio stops", 0, 3 * time.Second, 10 * time.Second, "stream.audio_stopped", "5"},
		{"audio comes late and flows", 7 * time.Second, 20 * time.Second, 10 * time.Second, "", ""},
		{"audio starts within the grace", 4 * time.Second, 20 * time.Second, 10 * time.Second, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t, 16)
			s := &Stream{Stage: "main", Start: t0, Tracks: []*Track{
				{Codec: &mp4codecs.H264{SPS: []byte{0x67}, PPS: []byte{0x68}}},
				{Codec: &mp4codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 44100, ChannelConfig: 1}}},
			}}
			p, err := r.Publish(s)
			if err != nil {
				t.Fatal(err)
			}
			for d := time.Duration(0); d <= tc.at; d += frame {
				if tc.audioFrom >= 0 && d >= tc.audioFrom && d < tc.audioTill {
					p.WriteUnit(&Unit{Track: 1, DTS: d, PTS: d, Received: t0.Add(d), RandomAccess: true, AU: [][]byte{{1}}})
				}
				p.WriteUnit(&Unit{Track: 0, DTS: d, PTS: d, Received: t0.Add(d), AU: [][]byte{{0x41}}})
			}
			got := r.Stages()[0].Warnings
			want := []Warning{}
			if tc.want != "" {
				want = append(want, Warn(tc.want, "Codec", "AAC", "Seconds", tc.seconds))
			}
			if !slices.EqualFunc(got, want, Warning.Equal) {
				t.Fatalf("warnings %+v, want %+v", got, want)
			}
			p.Close()
			if w := r.Stages()[0].Warnings; len(w) != 0 {
				t.Errorf("warnings after the publish ended: %q", w)
			}
		})
	}
}
