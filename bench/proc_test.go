package bench

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Duration
		ok       bool
	}{
		{"plain", "1234 (salon) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 1000 200", 3 * time.Second, true},
		{"spaces and parens in name", "1 (a) b) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 100 * time.Millisecond, true},
		{"truncated", "1 (x) S 1 2 3", 0, false},
		{"no name", "1 x S", 0, false},
		{"bad number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a 3 0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("got %s, %v; want %s, ok %v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	rss, hwm, err := parseProcStatus([]byte("Name:\tsalon\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t9\n"))
	if err != nil || rss != 1024*1024 || hwm != 2048*1024 {
		t.Errorf("got %d %d %v", rss, hwm, err)
	}
	if _, _, err := parseProcStatus([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("no error without VmRSS")
	}
}

func TestSampleProc(t *testing.T) {
	for _, pid := range []string{"self", strconv.Itoa(os.Getpid())} {
		s, err := sampleProc(pid)
		if err != nil {
			t.Fatal(err)
		}
		if s.rss <= 0 || s.peakRSS < s.rss {
			t.Errorf("%s: rss %d, peak %d", pid, s.rss, s.peakRSS)
		}
	}
	if _, err := sampleProc("999999999"); err == nil {
		t.Error("no error for a missing process")
	}
}
