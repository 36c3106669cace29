package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports; reading it with sysconf would
// need cgo.
const clockTicks = 100

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	at      time.Time
	cpu     time.Duration // utime + stime
	rss     int64         // VmRSS, bytes
	peakRSS int64         // VmHWM, bytes: the resident high-water mark since the process started
}

// sampleProc reads /proc/{pid}/stat and /proc/{pid}/status; pid "self" reads
// the load tool itself.
func sampleProc(pid string) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, fmt.Errorf("read CPU time of process %s (is it running, and is it yours?): %w", pid, err)
	}
	s.cpu, err = parseProcStat(stat)
	if err != nil {
		return s, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, fmt.Errorf("read memory of process %s: %w", pid, err)
	}
	s.rss, s.peakRSS, err = parseProcStatus(status)
	if err != nil {
		return s, fmt.Errorf("/proc/%s/status: %w", pid, err)
	}
	return s, nil
}

// parseProcStat returns utime+stime from the contents of /proc/PID/stat. The
// command name (field 2) may hold spaces and parentheses, so fields are counted
// from the last ')'.
func parseProcStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	// After ')': field 3 (state) is fields[0], so utime (14) is fields[11] and
	// stime (15) is fields[12].
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("only %d fields after the command name", len(fields))
	}
	utime, err := strconv.ParseUint(fields[11], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("utime %q: %w", fields[11], err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("stime %q: %w", fields[12], err)
	}
	ticks := utime + stime
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// parseProcStatus returns VmRSS and VmHWM in bytes from /proc/PID/status.
func parseProcStatus(b []byte) (rss, hwm int64, err error) {
	found := 0
	for line := range strings.Lines(string(b)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", key, strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", key, f[0])
		}
		if key == "VmRSS" {
			rss = kb * 1024
		} else {
			hwm = kb * 1024
		}
		found++
	}
	if found < 2 {
		return 0, 0, errors.New("no VmRSS/VmHWM lines (a kernel thread, or a zombie?)")
	}
	return rss, hwm, nil
}

// ProcUsage is a process's resource use over a run.
type ProcUsage struct {
	PID                 int     `json:"pid"`
	CPUSeconds          float64 `json:"cpu_seconds"`            // utime+stime spent during the run
	CPUSecondsPerMinute float64 `json:"cpu_seconds_per_minute"` // 60 = one core busy all the time
	RSSBytes            int64   `json:"rss_bytes"`              // VmRSS at the end of the run
	PeakRSSBytes        int64   `json:"peak_rss_bytes"`         // VmHWM at the end: peak since the process started
}

func usageBetween(pid int, start, end procSample) ProcUsage {
	u := ProcUsage{
		PID:          pid,
		CPUSeconds:   (end.cpu - start.cpu).Seconds(),
		RSSBytes:     end.rss,
		PeakRSSBytes: end.peakRSS,
	}
	if wall := end.at.Sub(start.at).Minutes(); wall > 0 {
		u.CPUSecondsPerMinute = u.CPUSeconds / wall
	}
	return u
}
