package transcode

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Encoders salon knows how to drive. The hardware ones need the machine's
// driver and, for VAAPI and QSV, a render device (-transcode-device).
var encoders = map[string]bool{"libx264": true, "h264_vaapi": true, "h264_nvenc": true, "h264_qsv": true}

// features are the ffmpeg options that differ between versions, found by
// probing the machine's ffmpeg once (probeFFmpeg).
type features struct {
	// fpsMode: -fps_mode (ffmpeg ≥ 5.1); else the older -vsync.
	fpsMode bool
	// encTimeBase: -enc_time_base -1 keeps the input's 90 kHz timestamps
	// instead of rounding them onto the frame rate's grid.
	encTimeBase bool
}

// output is one rendition of one ffmpeg run: what to encode and where the
// result is published.
type output struct {
	Rendition
	URL string // rtsp://… or rtmp://…, key included
}

// ffmpegArgs builds the argument list (never a shell line) of one run: MPEG-TS
// on stdin (fd 0) with the source's timestamps, progress on fd 3, one decode,
// one scaled encode per output, each published back to salon's ingest.
//
// Alignment: -copyts keeps the input timestamps, pass-through frame timing
// neither drops nor duplicates frames, and -force_key_frames source makes a
// keyframe (an IDR) exactly where the source has one — and nowhere else:
// the GOP limit is out of reach and scene-cut detection is off, so a
// rendition's segments cut where the source's do.
func ffmpegArgs(outs []output, encoder, device string, f features) []string {
	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
		"-progress", "pipe:3", "-stats_period", "1",
	}
	switch encoder {
	case "h264_vaapi":
		dev := device
		if dev == "" {
			dev = "/dev/dri/renderD128"
		}
		args = append(args, "-vaapi_device", dev)
	case "h264_qsv":
		if device != "" {
			args = append(args, "-qsv_device", device)
		}
	}
	args = append(args,
		// No probing beyond the first packets: the first unit is a keyframe
		// with its parameter sets in front (the feed sees to it) and ADTS
		// carries the audio's. Every frame ffmpeg holds back at the start is
		// latency, and the renditions' first keyframes are anchored on the
		// source's timeline by their arrival time.
		"-probesize", "32", "-analyzeduration", "0", "-fflags", "nobuffer",
		"-f", "mpegts", "-i", "pipe:0",
		"-copyts",
		"-filter_complex", filterGraph(outs, encoder),
	)
	for i, o := range outs {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i), "-map", "0:a:0?")
		args = append(args, "-c:v", encoder)
		args = append(args, encoderArgs(encoder, device)...)
		b := o.Bitrate
		args = append(args,
			"-b:v", strconv.Itoa(b), "-maxrate", strconv.Itoa(b), "-bufsize", strconv.Itoa(2*b),
			"-force_key_frames", "source",
		)
		if f.fpsMode {
			args = append(args, "-fps_mode", "passthrough")
		} else {
			args = append(args, "-vsync", "passthrough")
		}
		if f.encTimeBase {
			args = append(args, "-enc_time_base", "-1")
		}
		// Audio is encoded again, to AAC: a copy of the source's ADTS AAC
		// has no global header, which the RTSP muxer needs before the
		// first packet, and AAC plays everywhere a rendition must.
		args = append(args, "-c:a", "aac", "-b:a", strconv.Itoa(audioBitrate(o.Height)))
		if strings.HasPrefix(o.URL, "rtmp") {
			args = append(args, "-f", "flv", o.URL)
		} else {
			args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", o.URL)
		}
	}
	return args
}

// audioBitrate is the AAC bitrate of a rendition, in bits per second: the
// smaller renditions are for slow networks.
func audioBitrate(height int) int {
	if height <= 480 {
		return 96_000
	}
	return 128_000
}

// filterGraph decodes once and scales the first video stream to each
// output's height, keeping the aspect ratio (width rounded to even).
func filterGraph(outs []output, encoder string) string {
	var b strings.Builder
	b.WriteString("[0:v:0]")
	if len(outs) > 1 {
		fmt.Fprintf(&b, "split=%d", len(outs))
		for i := range outs {
			fmt.Fprintf(&b, "[s%d]", i)
		}
		b.WriteString(";")
	}
	for i, o := range outs {
		if len(outs) > 1 {
			fmt.Fprintf(&b, "[s%d]", i)
		}
		fmt.Fprintf(&b, "scale=-2:%d", o.Height)
		switch encoder {
		case "h264_vaapi":
			b.WriteString(",format=nv12,hwupload")
		case "h264_qsv", "h264_nvenc":
			b.WriteString(",format=nv12")
		default:
			b.WriteString(",format=yuv420p")
		}
		fmt.Fprintf(&b, "[v%d]", i)
		if i < len(outs)-1 {
			b.WriteString(";")
		}
	}
	return b.String()
}

// encoderArgs are the low-latency settings of each encoder: no B-frames, no
// lookahead, forced keyframes as IDRs, no keyframes of the encoder's own.
func encoderArgs(encoder, device string) []string {
	const noGOPLimit = "100000" // frames: keyframes come from the source only
	switch encoder {
	case "h264_nvenc":
		a := []string{"-preset", "p2", "-tune", "ll", "-bf", "0", "-g", noGOPLimit, "-forced-idr", "1", "-no-scenecut", "1"}
		if device != "" {
			a = append(a, "-gpu", device)
		}
		return a
	case "h264_vaapi":
		return []string{"-bf", "0", "-g", noGOPLimit}
	case "h264_qsv":
		return []string{"-preset", "veryfast", "-bf", "0", "-g", noGOPLimit, "-forced_idr", "1", "-look_ahead", "0"}
	default: // libx264
		return []string{"-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "high",
			"-g", noGOPLimit, "-sc_threshold", "0", "-forced-idr", "1"}
	}
}

// redactURL hides the publish key in an ffmpeg argument list for logs.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if u, err := url.Parse(a); err == nil && u.Scheme != "" && u.Host != "" {
			q := u.Query()
			if q.Has("key") {
				q.Set("key", "REDACTED")
				u.RawQuery = q.Encode()
			}
			if u.User != nil {
				u.User = url.UserPassword(u.User.Username(), "REDACTED")
			}
			out[i] = u.String()
		}
	}
	return out
}
