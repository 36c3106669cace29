package bench

import (
	"strings"
	"testing"
)

func TestParseLatencyTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    LatencyTarget
		wantErr string
	}{
		{"salon-ll=http://127.0.0.1:8080/live/main/index.m3u8,ll", LatencyTarget{"salon-ll", "http://127.0.0.1:8080/live/main/index.m3u8", true}, ""},
		{"mtx=http://127.0.0.1:8888/live/main/index.m3u8", LatencyTarget{"mtx", "http://127.0.0.1:8888/live/main/index.m3u8", false}, ""},
		{"http://127.0.0.1:8080/x.m3u8", LatencyTarget{}, "NAME=URL"},
		{"x=", LatencyTarget{}, "NAME=URL"},
		{"far=http://example.com/x.m3u8,ll", LatencyTarget{}, "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLatencyTarget(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestCompactErrors(t *testing.T) {
	got := strings.Join(compactErrors([]string{"bufferStalledError", "fatal:levelLoadError", "bufferStalledError"}), ", ")
	if want := "bufferStalledError ×2, fatal:levelLoadError ×1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
