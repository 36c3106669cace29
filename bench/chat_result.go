package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// ChatResult summarises one run of Chat. Latencies are in milliseconds.
type ChatResult struct {
	URL             string           `json:"url"`
	Viewers         int              `json:"viewers"`
	Connected       int              `json:"connected"`
	ConnectErrors   map[string]int64 `json:"connect_errors,omitempty"`
	Senders         int              `json:"senders"`
	Rate            float64          `json:"rate_per_second"`
	DurationSeconds float64          `json:"duration_seconds"` // of sending
	Stalled         int              `json:"stalled"`          // viewers that stopped reading after the welcome
	Interrupted     bool             `json:"interrupted,omitempty"`

	ConnectMs           Percentiles `json:"connect_ms"` // dial → welcome frame, per viewer
	ConnectTotalSeconds float64     `json:"connect_total_seconds"`

	Sent       int64 `json:"sent"`
	Accepted   int64 `json:"accepted"` // broadcast by the server (some viewer received them)
	Refused    int64 `json:"refused"`  // answered rate_limited
	SendErrors int64 `json:"send_errors"`
	ErrFrames  int64 `json:"error_frames"` // other error frames
	Frames     int64 `json:"frames"`       // received by reading viewers, all types
	Duplicates int64 `json:"duplicates"`

	LatencyMs Percentiles `json:"latency_ms"` // send → receipt, over every delivery to a reading viewer
	// With several nodes: deliveries to viewers of the sender's node, and
	// to viewers of the other nodes.
	Nodes              int          `json:"nodes,omitempty"`
	LatencySameNodeMs  *Percentiles `json:"latency_same_node_ms,omitempty"`
	LatencyCrossNodeMs *Percentiles `json:"latency_cross_node_ms,omitempty"`
	Reconnected        int          `json:"reconnected,omitempty"`          // viewers back on another node after theirs was lost
	ReconnectMs        *Percentiles `json:"reconnect_ms,omitempty"`         // connection end → welcome on another node
	LostAfterReconnect int64        `json:"lost_after_reconnect,omitempty"` // messages sent after a viewer was back and not received

	// Reading viewers that stayed connected: messages they owed (accepted,
	// sent after they joined) and missed.
	Expected int64 `json:"expected"`
	Lost     int64 `json:"lost"`
	// Reading viewers the server disconnected during the run, the messages
	// they missed before that, and why they ended.
	ReadersDropped    int              `json:"readers_dropped"`
	ReadersDroppedWhy map[string]int64 `json:"readers_dropped_why,omitempty"`
	LostBeforeDrop    int64            `json:"lost_before_drop"`
	// Stalled viewers the server had disconnected by the end.
	StalledDropped int `json:"stalled_dropped"`

	Salon      *ChatProc   `json:"salon,omitempty"`
	SalonNodes []*ChatProc `json:"salon_nodes,omitempty"` // one per -pids, in order
	Tool       ProcUsage   `json:"tool"`
	// MachineBusyPercentLoad is how busy all cores were while sending (100:
	// all of them), other people's processes included; Cores is their number.
	MachineBusyPercentLoad float64 `json:"machine_busy_percent_load"`
	Cores                  int     `json:"cores"`
}

// ChatProc is the server's CPU and memory over the phases of a run.
type ChatProc struct {
	PID               int     `json:"pid"`
	CPUSecondsConnect float64 `json:"cpu_seconds_connect"`
	CPUSecondsIdle    float64 `json:"cpu_seconds_idle"`
	CPUSecondsLoad    float64 `json:"cpu_seconds_load"` // sending + grace
	CPUPercentLoad    float64 `json:"cpu_percent_load"` // of one core
	RSSBaseline       int64   `json:"rss_baseline_bytes"`
	RSSIdle           int64   `json:"rss_idle_bytes"` // all connected, before sending
	RSSEnd            int64   `json:"rss_end_bytes"`
	PeakRSS           int64   `json:"peak_rss_bytes"` // VmHWM: since the process started
	RSSPerIdleConn    float64 `json:"rss_per_idle_conn_bytes"`
}

func chatProc(pid int, s [4]procSample, connected int) *ChatProc {
	p := &ChatProc{
		PID:               pid,
		CPUSecondsConnect: (s[1].cpu - s[0].cpu).Seconds(),
		CPUSecondsIdle:    (s[2].cpu - s[1].cpu).Seconds(),
		CPUSecondsLoad:    (s[3].cpu - s[2].cpu).Seconds(),
		RSSBaseline:       s[0].rss,
		RSSIdle:           s[2].rss,
		RSSEnd:            s[3].rss,
		PeakRSS:           s[3].peakRSS,
	}
	if wall := s[3].at.Sub(s[2].at).Seconds(); wall > 0 {
		p.CPUPercentLoad = p.CPUSecondsLoad / wall * 100
	}
	if connected > 0 {
		p.RSSPerIdleConn = float64(s[2].rss-s[0].rss) / float64(connected)
	}
	return p
}

func (b *Chat) summarize(viewers []*chatViewer, sent []int64, sendEnd int64) *ChatResult {
	r := &ChatResult{
		URL:             b.wsURL,
		Viewers:         len(viewers),
		Senders:         len(b.senders),
		Rate:            b.Rate,
		DurationSeconds: b.Duration.Seconds(),
		Sent:            int64(len(sent)),
	}
	accepted := newBitset(len(sent))
	var connect, back []time.Duration
	var hist, same, cross latencyHist
	for _, v := range viewers {
		if v.conn == nil {
			if v.connectErr != "" {
				if r.ConnectErrors == nil {
					r.ConnectErrors = map[string]int64{}
				}
				r.ConnectErrors[v.connectErr]++
			}
			continue
		}
		r.Connected++
		connect = append(connect, v.connect)
		accepted.or(v.recv)
		hist.merge(&v.hist)
		same.merge(&v.same)
		cross.merge(&v.cross)
		back = append(back, v.back...)
		r.Frames += v.frames
		r.Duplicates += v.dups
		r.Refused += v.refused
		r.ErrFrames += v.errFrames
	}
	for id := range sent {
		if accepted.has(uint64(id)) {
			r.Accepted++
		}
	}
	for _, v := range viewers {
		if v.conn == nil || v.stalled {
			continue
		}
		if len(v.back) > 0 && v.left == 0 {
			// Back on another node: it owes what was sent after its
			// last welcome (what it missed meanwhile is in that welcome's
			// history, which the tool does not read).
			r.Reconnected++
			_, lost := lossFor(v.recv, accepted, sent, v.joined, sendEnd+1)
			r.LostAfterReconnect += lost
			continue
		}
		if v.left > 0 {
			r.ReadersDropped++
			if r.ReadersDroppedWhy == nil {
				r.ReadersDroppedWhy = map[string]int64{}
			}
			r.ReadersDroppedWhy[v.leftErr]++
			_, lost := lossFor(v.recv, accepted, sent, v.joined, v.left)
			r.LostBeforeDrop += lost
			continue
		}
		exp, lost := lossFor(v.recv, accepted, sent, v.joined, sendEnd+1)
		r.Expected += exp
		r.Lost += lost
	}
	r.ConnectMs = percentiles(connect)
	r.LatencyMs = hist.percentiles()
	if len(b.wsURLs) > 1 {
		r.Nodes = len(b.wsURLs)
		s, c := same.percentiles(), cross.percentiles()
		r.LatencySameNodeMs, r.LatencyCrossNodeMs = &s, &c
	}
	if len(back) > 0 {
		p := percentiles(back)
		r.ReconnectMs = &p
	}
	return r
}

// Pass reports whether the run met the target: everyone connected, nothing
// lost or refused, no reading viewer dropped, latency p99 under maxP99.
func (r *ChatResult) Pass(maxP99 time.Duration) bool {
	return r.Connected == r.Viewers && r.Lost == 0 && r.ReadersDropped == 0 && r.Refused == 0 &&
		r.SendErrors == 0 && r.LatencyMs.P99 < ms(maxP99)
}

// WriteTable prints the result for a person.
func (r *ChatResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("url", "%s", r.URL)
	row("viewers", "%d connected of %d%s; %d stalled (stop reading)", r.Connected, r.Viewers, errorList(r.ConnectErrors), r.Stalled)
	row("connect", "p50 %.1f  p99 %.1f  max %.1f ms; all in %.1f s", r.ConnectMs.P50, r.ConnectMs.P99, r.ConnectMs.Max, r.ConnectTotalSeconds)
	interrupted := ""
	if r.Interrupted {
		interrupted = ", interrupted"
	}
	row("sending", "%d senders, %g msg/s for %.0f s%s", r.Senders, r.Rate, r.DurationSeconds, interrupted)
	row("messages", "%d sent, %d broadcast, %d refused (rate limit), %d send errors, %d other error frames", r.Sent, r.Accepted, r.Refused, r.SendErrors, r.ErrFrames)
	row("delivery latency", "p50 %.1f  p90 %.1f  p99 %.1f  max %.1f ms (%d deliveries)", r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P99, r.LatencyMs.Max, r.LatencyMs.Count)
	if r.LatencySameNodeMs != nil {
		row("  within a node", "p50 %.1f  p99 %.1f  max %.1f ms (%d)", r.LatencySameNodeMs.P50, r.LatencySameNodeMs.P99, r.LatencySameNodeMs.Max, r.LatencySameNodeMs.Count)
		row("  across nodes", "p50 %.1f  p99 %.1f  max %.1f ms (%d)", r.LatencyCrossNodeMs.P50, r.LatencyCrossNodeMs.P99, r.LatencyCrossNodeMs.Max, r.LatencyCrossNodeMs.Count)
	}
	row("lost", "%d of %d owed to reading viewers (%d duplicates)", r.Lost, r.Expected, r.Duplicates)
	if r.ReconnectMs != nil {
		row("reconnected", "%d viewers back on another node: p50 %.0f  p99 %.0f  max %.0f ms after their connection ended; %d messages lost after",
			r.Reconnected, r.ReconnectMs.P50, r.ReconnectMs.P99, r.ReconnectMs.Max, r.LostAfterReconnect)
	}
	row("readers dropped", "%d%s, %d messages missed before", r.ReadersDropped, errorList(r.ReadersDroppedWhy), r.LostBeforeDrop)
	row("stalled dropped", "%d of %d", r.StalledDropped, r.Stalled)
	for i, p := range r.SalonNodes {
		row(fmt.Sprintf("salon node %d CPU", i+1), "load %.1f s (%.0f%% of a core); RSS end %s", p.CPUSecondsLoad, p.CPUPercentLoad, humanBytes(p.RSSEnd))
	}
	if p := r.Salon; p != nil {
		row("salon CPU", "connect %.1f s, idle %.1f s, load %.1f s (%.0f%% of a core)", p.CPUSecondsConnect, p.CPUSecondsIdle, p.CPUSecondsLoad, p.CPUPercentLoad)
		row("salon RSS", "baseline %s, idle %s, end %s, peak %s; %.1f KiB per idle connection",
			humanBytes(p.RSSBaseline), humanBytes(p.RSSIdle), humanBytes(p.RSSEnd), humanBytes(p.PeakRSS), p.RSSPerIdleConn/1024)
	}
	row("load tool", "%s", usageText(r.Tool))
	row("machine", "%.0f%% of %d cores busy while sending (everything on the machine)", r.MachineBusyPercentLoad, r.Cores)
	return tw.Flush()
}
