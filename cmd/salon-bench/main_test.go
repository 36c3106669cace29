package main

import (
	"strings"
	"testing"
)

func TestRun_Usage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"fly"}, 2, "unknown command"},
		{"help", []string{"help"}, 0, ""},
		{"flag help", []string{"viewers", "-h"}, 0, "-url"},
		{"bad flag", []string{"viewers", "-bogus"}, 2, "bogus"},
		{"stray argument", []string{"viewers", "-url", "http://127.0.0.1/x.m3u8", "extra"}, 2, "unexpected"},
		{"remote refused", []string{"viewers", "-url", "http://192.0.2.1/live/main/index.m3u8"}, 1, "-allow-remote"},
		{"missing url", []string{"viewers"}, 1, "-url is required"},
		{"bad steps", []string{"ramp", "-url", "http://127.0.0.1/x.m3u8", "-steps", "10,x"}, 1, "not a number"},
		{"chat flag help", []string{"chat", "-h"}, 0, "-senders"},
		{"chat remote refused", []string{"chat", "-url", "http://192.0.2.1:8080"}, 1, "not loopback"},
		{"chat senders over addresses", []string{"chat", "-url", "http://127.0.0.1:1", "-n", "16", "-senders", "3"}, 1, "source addresses"},
		{"bad mode", []string{"viewers", "-url", "http://127.0.0.1/x.m3u8", "-mode", "fast"}, 1, "-mode"},
		{"browser-latency without targets", []string{"browser-latency"}, 2, "-target"},
		{"browser-latency remote refused", []string{"browser-latency", "-target", "x=http://192.0.2.1/x.m3u8"}, 2, "loopback"},
		{"zero step", []string{"ramp", "-url", "http://127.0.0.1/x.m3u8", "-steps", "0"}, 1, "not a viewer count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), tt.wantErr) {
				t.Errorf("output %q lacks %q", stdout.String()+stderr.String(), tt.wantErr)
			}
		})
	}
}
