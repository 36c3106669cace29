package transcode

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// probeFFmpeg runs the machine's ffmpeg once: it must start, have the
// encoder, and it tells which version-dependent options it knows.
func probeFFmpeg(path, encoder string) (features, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-hide_banner", "-encoders").Output()
	if err != nil {
		return features{}, fmt.Errorf("%s -encoders: %v: install a working ffmpeg or drop -transcode", path, err)
	}
	if !hasEncoder(string(out), encoder) {
		return features{}, fmt.Errorf("this ffmpeg (%s) has no %s encoder: choose another -transcode-encoder or install an ffmpeg built with it", path, encoder)
	}
	help, err := exec.CommandContext(ctx, path, "-hide_banner", "-h", "long").Output()
	if err != nil {
		return features{}, fmt.Errorf("%s -h long: %v", path, err)
	}
	h := string(help)
	return features{
		fpsMode:     strings.Contains(h, "-fps_mode"),
		encTimeBase: strings.Contains(h, "-enc_time_base"),
	}, nil
}

// hasEncoder reads `ffmpeg -encoders`: lines like " V....D libx264  …".
func hasEncoder(list, name string) bool {
	for line := range strings.Lines(list) {
		f := strings.Fields(line)
		if len(f) >= 2 && len(f[0]) == 6 && f[1] == name {
			return true
		}
	}
	return false
}
