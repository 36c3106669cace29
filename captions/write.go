package captions

import (
	"strconv"
	"strings"
	"time"
)

// Write returns cues as a WebVTT file: the signature, then each cue's
// timing and text, nothing else (no ids, settings, styles).
func Write(cues []Cue) []byte {
	b := make([]byte, 0, 16+len(cues)*64)
	b = append(b, "WEBVTT\n"...)
	return appendCues(b, cues, 0)
}

// AppendSegment appends one WebVTT segment of an HLS subtitle rendition: the
// cues that overlap [from, from+dur) of the media timeline, a cue that spans
// segments in each. Cue times stay on the media timeline (what players that
// ignore X-TIMESTAMP-MAP, such as ffmpeg, compare with the video's
// timestamps), and the X-TIMESTAMP-MAP puts LOCAL from at mpegts, the
// segment's start on the video's timeline in 90 kHz units (its fMP4 tfdt;
// RFC 8216 §3.5), for players that follow it (hls.js, Safari).
func AppendSegment(b []byte, cues []Cue, from, dur time.Duration, mpegts uint64) []byte {
	b = append(b, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:"...)
	b = strconv.AppendUint(b, mpegts%(1<<33), 10)
	b = append(b, ",LOCAL:"...)
	b = appendTime(b, from)
	b = append(b, '\n')
	var in []Cue
	for _, c := range cues {
		if c.End > from && c.Start < from+dur {
			in = append(in, c)
		}
	}
	return appendCues(b, in, 0)
}

// appendCues writes cues shifted back by offset (times below 0 become 0).
func appendCues(b []byte, cues []Cue, offset time.Duration) []byte {
	for _, c := range cues {
		b = append(b, '\n')
		b = appendTime(b, max(c.Start-offset, 0))
		b = append(b, " --> "...)
		b = appendTime(b, max(c.End-offset, 0))
		b = append(b, '\n')
		// Text made elsewhere (a live cue) is clean already; a blank line or
		// "-->" inside it would end or break the cue.
		t := strings.ReplaceAll(c.Text, "-->", "--&gt;")
		for _, line := range strings.Split(t, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			b = append(b, line...)
			b = append(b, '\n')
		}
	}
	return b
}

// appendTime writes hh:mm:ss.ttt.
func appendTime(b []byte, d time.Duration) []byte {
	ms := d.Milliseconds()
	h, ms := ms/3600000, ms%3600000
	m, ms := ms/60000, ms%60000
	s, ms := ms/1000, ms%1000
	b = appendPad(b, h, 2)
	b = append(b, ':')
	b = appendPad(b, m, 2)
	b = append(b, ':')
	b = appendPad(b, s, 2)
	b = append(b, '.')
	return appendPad(b, ms, 3)
}

func appendPad(b []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// formatTime is hh:mm:ss.ttt, for messages.
func formatTime(d time.Duration) string { return string(appendTime(nil, d)) }
