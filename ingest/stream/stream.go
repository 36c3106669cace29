// Package stream is the vocabulary shared by ingest, hls and archive: a stage's
// tracks, its access units, and the fan-out of those units to readers.
//
// Data flows one way: an ingest server claims a stage with Registry.Publish and
// writes units; readers subscribe with Registry.Subscribe and receive events
// on their own goroutine, or with Registry.SubscribeInline (the HLS
// segmenter, which never blocks) on the writer's goroutine, right after the
// write. A slow reader never blocks the publisher: its units are dropped and
// counted.
package stream

import (
	"fmt"
	"regexp"
	"time"

	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Track is one elementary stream of a publish. Codec is one of
// *mp4codecs.H264, *mp4codecs.H265, *mp4codecs.MPEG4Audio or *mp4codecs.Opus:
// the codecs salon accepts, described the way the fMP4 writer needs them.
type Track struct {
	Codec mp4codecs.Codec
}

// IsVideo tells whether the track carries video.
func (t *Track) IsVideo() bool { return t.Codec.IsVideo() }

// CodecName is the short human name of the track's codec ("H264", "AAC"…).
func (t *Track) CodecName() string { return CodecName(t.Codec) }

// CodecName names a codec for logs, errors and the API.
func CodecName(c mp4codecs.Codec) string {
	switch c.(type) {
	case *mp4codecs.H264:
		return "H264"
	case *mp4codecs.H265:
		return "H265"
	case *mp4codecs.MPEG4Audio:
		return "AAC"
	case *mp4codecs.Opus:
		return "Opus"
	default:
		return fmt.Sprintf("%T", c)
	}
}

// Stream is one publish on a stage: its tracks are fixed for its whole life.
// A publisher that reconnects makes a new Stream.
type Stream struct {
	Stage string
	// Rendition is "" for the stage's source (a publish to live/{stage}) and
	// the rendition's name for a publish to live/{stage}/{rendition}: an
	// encoder's second output at another resolution or bitrate.
	Rendition string
	Tracks    []*Track
	// Source says where the media comes from: "rtsp", "rtmp" or "pull".
	Source string
	// Remote is the publisher's address, for logs and the API.
	Remote string
	// Start is the wall-clock time the publish began.
	Start time.Time
}

// Unit is one access unit of one track.
//
// Timestamps are relative to the start of the Stream and share one clock across
// its tracks. For video, AU holds the NALUs of one frame (no start codes) and
// DTS may be below PTS (B-frames). For audio, AU holds exactly one frame (one
// AAC access unit or one Opus packet) and DTS equals PTS.
type Unit struct {
	Track int
	PTS   time.Duration
	DTS   time.Duration
	// Received is when the unit arrived from the network: it stamps
	// EXT-X-PROGRAM-DATE-TIME and measures ingest-to-playlist latency.
	Received time.Time
	// RandomAccess marks a video keyframe (IDR/IRAP); always true for audio.
	RandomAccess bool
	AU           [][]byte
}

// Size is the payload size of the unit in bytes.
func (u *Unit) Size() int {
	n := 0
	for _, b := range u.AU {
		n += len(b)
	}
	return n
}

var (
	stageRE     = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	renditionRE = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
)

// ValidStage tells whether name is a valid stage name: 1–64 of a-z 0-9 -.
func ValidStage(name string) bool { return stageRE.MatchString(name) }

// SourceRendition is the name the source goes by where renditions are named
// (/live/{stage}/source/index.m3u8, the API, the bucket is unchanged): a
// publish to live/{stage}/source is the source too.
const SourceRendition = "source"

// ValidRendition tells whether name is a valid rendition name of a publish
// path: 1–32 of a-z 0-9 -, and not SourceRendition (which means the source,
// Rendition "").
func ValidRendition(name string) bool {
	return name != SourceRendition && renditionRE.MatchString(name)
}

// RenditionName is the name a publish path goes by in URLs, logs and the API:
// SourceRendition for the source ("").
func RenditionName(rendition string) string {
	if rendition == "" {
		return SourceRendition
	}
	return rendition
}
