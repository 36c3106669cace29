package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"

	"github.com/salon/salon/transcode"
)

// TranscodeConfig is -transcode: renditions salon makes itself with an
// ffmpeg child per live stage. Off (no renditions) by default: the source
// path stays remux only.
type TranscodeConfig struct {
	Renditions []transcode.Rendition // -transcode 720p,480p
	Encoder    string                // -transcode-encoder: libx264 (default), h264_vaapi, h264_nvenc, h264_qsv
	Device     string                // -transcode-device: render node or GPU index
}

// On reports whether salon transcodes.
func (t TranscodeConfig) On() bool { return len(t.Renditions) > 0 }

// transcodeFlags registers the -transcode flags on fs, their defaults taken
// from the environment; the returned func finishes the parsing after
// fs.Parse and names the flag at fault.
func transcodeFlags(fs *flag.FlagSet, t *TranscodeConfig, getenv func(string) string) func() error {
	list := ""
	strs := []struct {
		name, env string
		dst       *string
		usage     string
	}{
		{"transcode", "SALON_TRANSCODE", &list, "make renditions of every live stage with an ffmpeg child, e.g. 720p,480p (off when empty; needs ffmpeg)"},
		{"transcode-encoder", "SALON_TRANSCODE_ENCODER", &t.Encoder, "the renditions' H.264 encoder: libx264, h264_vaapi, h264_nvenc or h264_qsv"},
		{"transcode-device", "SALON_TRANSCODE_DEVICE", &t.Device, "the hardware encoder's device: a render node for VAAPI/QSV (/dev/dri/renderD128), a GPU index for NVENC"},
	}
	for _, f := range strs {
		if v, ok := lookup(getenv, f.env); ok {
			*f.dst = v
		}
		fs.StringVar(f.dst, f.name, *f.dst, f.usage+" ($"+f.env+")")
	}
	return func() error {
		rs, err := transcode.ParseRenditions(list)
		if err != nil {
			return fmt.Errorf("-transcode %q: %w", list, err)
		}
		t.Renditions = rs
		switch t.Encoder {
		case "", "libx264", "h264_vaapi", "h264_nvenc", "h264_qsv":
		default:
			return fmt.Errorf("-transcode-encoder %q: use libx264, h264_vaapi, h264_nvenc or h264_qsv", t.Encoder)
		}
		if !t.On() && (t.Encoder != "" || t.Device != "") {
			return fmt.Errorf("-transcode-encoder and -transcode-device need -transcode (the renditions to make, e.g. 720p,480p)")
		}
		return nil
	}
}

// loopbackPublishURL is where salon's own ffmpeg child publishes a rendition:
// the ingest at addr (its bound address) reached over loopback when it
// listens on every interface, with the publish key. scheme is rtsp or rtmp.
func loopbackPublishURL(scheme, addr, key, stage, rendition string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "", addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	u := url.URL{
		Scheme:   scheme,
		Host:     net.JoinHostPort(host, port),
		Path:     "/live/" + stage + "/" + rendition,
		RawQuery: "key=" + url.QueryEscape(key),
	}
	return u.String()
}

// transcodeTarget chooses the ingest the child publishes to: RTSP when it
// is on (TCP interleaved, no reconnection quirks), else RTMP.
func transcodeTarget(rtspAddr, rtmpAddr, key string) (func(stage, rendition string) string, error) {
	switch {
	case rtspAddr != "":
		return func(s, r string) string { return loopbackPublishURL("rtsp", rtspAddr, key, s, r) }, nil
	case rtmpAddr != "":
		return func(s, r string) string { return loopbackPublishURL("rtmp", rtmpAddr, key, s, r) }, nil
	}
	return nil, fmt.Errorf("-transcode needs -rtsp or -rtmp: the renditions come back through salon's own ingest")
}
