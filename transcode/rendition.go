package transcode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Rendition is one lower-resolution copy of a stage that the ffmpeg child
// makes: published as live/{stage}/{Name}, Height lines high, width from the
// source's aspect.
type Rendition struct {
	// Name is the rendition's name in the publish path, e.g. "480p".
	Name string
	// Height in lines (even, 144–2160).
	Height int
	// Bitrate is the video bitrate in bits per second (the encoder's target
	// and its peak: players pick renditions by it).
	Bitrate int
}

// MaxRenditions bounds -transcode: each rendition is a full encode, and this
// machine class has two cores.
const MaxRenditions = 4

// ParseRenditions reads the -transcode value: heights like "720p,480p"
// (comma-separated, spaces allowed, no duplicates), tallest first. An empty
// value means no renditions.
func ParseRenditions(s string) ([]Rendition, error) {
	var out []Rendition
	seen := map[int]bool{}
	for _, tok := range strings.Split(s, ",") {
		tok = strings.ToLower(strings.TrimSpace(tok))
		if tok == "" {
			continue
		}
		num, ok := strings.CutSuffix(tok, "p")
		h, err := strconv.Atoi(num)
		if !ok || err != nil || num == "" || num[0] == '+' || num[0] == '-' {
			return nil, fmt.Errorf("%q is not a height: use heights like 720p,480p", tok)
		}
		if h < 144 || h > 2160 || h%2 != 0 {
			return nil, fmt.Errorf("%q: choose an even height between 144p and 2160p", tok)
		}
		if seen[h] {
			return nil, fmt.Errorf("%q is listed twice", tok)
		}
		seen[h] = true
		out = append(out, Rendition{Name: strconv.Itoa(h) + "p", Height: h, Bitrate: DefaultBitrate(h)})
	}
	if len(out) > MaxRenditions {
		return nil, fmt.Errorf("%d renditions: at most %d (each one is a full encode)", len(out), MaxRenditions)
	}
	if len(out) == 0 && strings.TrimSpace(s) != "" {
		return nil, errors.New("no height given: use heights like 720p,480p")
	}
	for i := 1; i < len(out); i++ { // tallest first: a handful, insertion sort
		for j := i; j > 0 && out[j].Height > out[j-1].Height; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// DefaultBitrate is the video bitrate for a height, in bits per second:
// the usual ladder for H.264 at 30 fps (1080p 5 Mbit/s, 720p 2.8, 480p 1.2,
// 360p 0.8, 240p 0.4), in between by pixel count.
func DefaultBitrate(height int) int {
	ladder := []struct{ h, kbps int }{{144, 200}, {240, 400}, {360, 800}, {480, 1200}, {720, 2800}, {1080, 5000}, {1440, 8000}, {2160, 14000}}
	for i, step := range ladder {
		if height == step.h {
			return step.kbps * 1000
		}
		if height < step.h {
			if i == 0 {
				return step.kbps * 1000
			}
			lo := ladder[i-1]
			// Linear in pixels between the two neighbours.
			f := float64(height*height-lo.h*lo.h) / float64(step.h*step.h-lo.h*lo.h)
			return int(float64(lo.kbps)+f*float64(step.kbps-lo.kbps)) * 1000
		}
	}
	return ladder[len(ladder)-1].kbps * 1000
}
