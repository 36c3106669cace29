// Package transcode makes renditions of live stages with an ffmpeg child
// process: -transcode 720p,480p. It owns the child's life and nothing else:
// the renditions go back into salon through the same ingest path an encoder
// uses (a publish to live/{stage}/{rendition}), so everything after ingest
// treats them like renditions sent by an encoder.
//
// Per stage, a registry reader feeds the source's units to ffmpeg as MPEG-TS
// over a pipe with their timestamps kept; ffmpeg decodes once, scales to each
// height, encodes with keyframes exactly where the source has them and
// publishes each output over RTSP (or RTMP) on loopback. The source path
// stays remux-only and never waits for the child: a slow ffmpeg makes its
// reader drop units, and the feed starts over at the next keyframe. A child
// that exits or stops producing is restarted with back-off.
package transcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

// sourceRegistry is what the transcoder needs from stream.Registry.
type sourceRegistry interface {
	Changed() <-chan struct{}
	Stages() []stream.StageInfo
	SubscribePath(name, stage, rendition string, fn func(stream.Event)) func()
}

var _ sourceRegistry = (*stream.Registry)(nil)

// Transcoder runs one ffmpeg child per live stage that has a video source.
// One goroutine (watchStages) adds a worker when a stage is first seen live;
// mu guards workers.
// warningSetter shows or clears (a zero Warning) a named warning on a
// stage; *stream.Registry satisfies it.
type warningSetter interface {
	SetWarning(stage, key string, w stream.Warning)
}

// warningKey names the transcoder's warning on a stage.
const warningKey = "transcode"

type Transcoder struct {
	// parameters

	// Renditions to make (ParseRenditions); required. A rendition as tall
	// as the source or taller is skipped for that publish.
	Renditions []Rendition
	// Registry is the source of the stages' units.
	Registry sourceRegistry
	// Target is the URL the child publishes a rendition to:
	// rtsp://127.0.0.1:PORT/live/{stage}/{rendition}?key=KEY, or rtmp://…
	// (published with -f flv). Required.
	Target func(stage, rendition string) string
	// IsSource tells whether a stage's publish is a source to transcode
	// (default: every publish).
	IsSource func(*stream.Stream) bool
	// FFmpeg is the ffmpeg binary (default: "ffmpeg" on the PATH).
	FFmpeg string
	// Encoder is libx264 (default), h264_vaapi, h264_nvenc or h264_qsv.
	Encoder string
	// Device is the hardware device: a render node for VAAPI/QSV
	// (/dev/dri/renderD128), a GPU index for NVENC.
	Device string

	// MinBackoff and MaxBackoff bound the wait before a restart (default
	// 1 s doubling to 30 s); a child that ran HealthyAfter (default 1 min)
	// restarts after MinBackoff again.
	MinBackoff, MaxBackoff, HealthyAfter time.Duration
	// StallTimeout: a child that is fed but puts out no frame for this long
	// is killed and restarted (default 15 s).
	StallTimeout time.Duration
	// StopGrace is how long a child has to exit after its input ends, and
	// then after SIGTERM, before SIGKILL (default 5 s).
	StopGrace time.Duration

	// Warnings, optional, shows a failing child on the stage
	// (*stream.Registry: /api/stages and the console), so the organiser
	// sees that the renditions stopped, not only the log.
	Warnings warningSetter

	Metrics prometheus.Registerer
	Log     *slog.Logger

	// private

	ffmpegPath string
	feats      features
	restarts   *prometheus.CounterVec
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	mu      sync.Mutex
	workers map[string]*stageWorker
}

// Initialize checks the configuration and ffmpeg, then starts following the
// registry.
func (t *Transcoder) Initialize() error {
	if len(t.Renditions) == 0 {
		return errors.New("transcode: no renditions")
	}
	if t.Registry == nil || t.Target == nil {
		return errors.New("transcode: no registry or target")
	}
	if t.Encoder == "" {
		t.Encoder = "libx264"
	}
	if !encoders[t.Encoder] {
		return fmt.Errorf("transcode: encoder %q: use libx264, h264_vaapi, h264_nvenc or h264_qsv", t.Encoder)
	}
	if t.FFmpeg == "" {
		t.FFmpeg = "ffmpeg"
	}
	path, err := exec.LookPath(t.FFmpeg)
	if err != nil {
		return fmt.Errorf("transcode: ffmpeg not found (%v): install ffmpeg or drop -transcode", err)
	}
	t.ffmpegPath = path
	if t.feats, err = probeFFmpeg(path, t.Encoder); err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	if t.IsSource == nil {
		t.IsSource = func(*stream.Stream) bool { return true }
	}
	if t.MinBackoff <= 0 {
		t.MinBackoff = time.Second
	}
	if t.MaxBackoff < t.MinBackoff {
		t.MaxBackoff = max(30*time.Second, t.MinBackoff)
	}
	if t.HealthyAfter <= 0 {
		t.HealthyAfter = time.Minute
	}
	if t.StallTimeout <= 0 {
		t.StallTimeout = 15 * time.Second
	}
	if t.StopGrace <= 0 {
		t.StopGrace = 5 * time.Second
	}
	if t.Log == nil {
		t.Log = slog.New(slog.DiscardHandler)
	}
	t.Log = t.Log.With("component", "transcode")
	t.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "salon_transcode_restarts_total",
		Help: "Times the ffmpeg child making a stage's renditions ended (exited, failed to start or stalled) and was restarted.",
	}, []string{"stage"})
	if t.Metrics != nil {
		running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "salon_transcode_children",
			Help: "ffmpeg children running now (one per transcoded stage).",
		}, func() float64 {
			n := 0
			for _, s := range t.States() {
				if s.Running {
					n++
				}
			}
			return float64(n)
		})
		for _, c := range []prometheus.Collector{t.restarts, running} {
			if err := t.Metrics.Register(c); err != nil {
				return fmt.Errorf("transcode metrics: %w", err)
			}
		}
	}
	t.workers = map[string]*stageWorker{}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.wg.Add(1)
	go t.watchStages()
	names := make([]string, len(t.Renditions))
	for i, r := range t.Renditions {
		names[i] = r.Name
	}
	t.Log.Info("transcoding live stages", "renditions", names, "encoder", t.Encoder, "ffmpeg", path)
	return nil
}

// Close stops every child (gracefully, then by force) and every reader.
func (t *Transcoder) Close() {
	if t.cancel == nil {
		return
	}
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	ws := t.workers
	t.workers = nil
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); w.close() }()
	}
	wg.Wait()
}

// watchStages adds a worker for each stage the first time it is live. A
// worker then follows its stage's publishes by itself.
func (t *Transcoder) watchStages() {
	defer t.wg.Done()
	for {
		changed := t.Registry.Changed()
		for _, s := range t.Registry.Stages() {
			if !s.Live {
				continue
			}
			t.mu.Lock()
			if t.workers != nil && t.workers[s.Name] == nil {
				t.workers[s.Name] = newStageWorker(t, s.Name)
			}
			t.mu.Unlock()
		}
		select {
		case <-changed:
		case <-t.ctx.Done():
			return
		}
	}
}

// outputsFor lists what to make of a publish; note says what was left out
// and why.
func (t *Transcoder) outputsFor(s *stream.Stream) ([]output, string) {
	if !t.IsSource(s) {
		return nil, ""
	}
	hasVideo := false
	for _, tr := range s.Tracks {
		hasVideo = hasVideo || tr.IsVideo()
	}
	if !hasVideo {
		return nil, "the publish has no video"
	}
	h := videoHeight(s)
	var outs []output
	var skipped []string
	for _, r := range t.Renditions {
		if h > 0 && r.Height >= h {
			skipped = append(skipped, r.Name)
			continue
		}
		outs = append(outs, output{Rendition: r, URL: t.Target(s.Stage, r.Name)})
	}
	note := ""
	if len(skipped) > 0 {
		note = fmt.Sprintf("%s skipped: the source is %d lines high", strings.Join(skipped, ", "), h)
	}
	return outs, note
}

// start starts one child making outs.
func (t *Transcoder) start(ctx context.Context, outs []output) (*process, error) {
	args := ffmpegArgs(outs, t.Encoder, t.Device, t.feats)
	p, err := startProcess(ctx, t.ffmpegPath, args, t.StopGrace)
	if err != nil {
		return nil, fmt.Errorf("start %s %s: %w", t.ffmpegPath, strings.Join(redactArgs(args), " "), err)
	}
	t.Log.Debug("transcode: ffmpeg command", "args", strings.Join(redactArgs(args), " "))
	return p, nil
}

func (t *Transcoder) checkEvery() time.Duration {
	return min(time.Second, t.StallTimeout/4)
}

// StageState is what the transcoder is doing for one stage (for
// /api/stages and tests).
type StageState struct {
	Stage string `json:"stage"`
	// Live: the stage's source is live.
	Live bool `json:"live"`
	// Renditions being made for the current source.
	Renditions []string `json:"renditions,omitempty"`
	// Running: an ffmpeg child runs now, with PID since Since.
	Running bool       `json:"running"`
	PID     int        `json:"pid,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
	// Restarts counts children that ended by themselves or were killed for
	// stalling (not stops because the source ended).
	Restarts   int        `json:"restarts"`
	LastExit   string     `json:"last_exit,omitempty"`
	LastExitAt *time.Time `json:"last_exit_at,omitempty"`
	// NextStart is when the next child starts (back-off), while none runs.
	NextStart *time.Time `json:"next_start,omitempty"`
	// Note says why some or all renditions are not made (a source too small).
	Note string `json:"note,omitempty"`
	// Dropped counts the source's units ffmpeg did not take in time since
	// the stage appeared (dropped before the feed; the renditions skip to
	// the next keyframe, the source is not affected).
	Dropped uint64 `json:"units_dropped"`
}

// State returns one stage's state; false when the stage was never live.
func (t *Transcoder) State(stage string) (StageState, bool) {
	t.mu.Lock()
	w := t.workers[stage]
	t.mu.Unlock()
	if w == nil {
		return StageState{}, false
	}
	return w.state(), true
}

// States returns every stage's state, sorted by stage.
func (t *Transcoder) States() []StageState {
	t.mu.Lock()
	ws := make([]*stageWorker, 0, len(t.workers))
	for _, w := range t.workers {
		ws = append(ws, w)
	}
	t.mu.Unlock()
	out := make([]StageState, len(ws))
	for i, w := range ws {
		out[i] = w.state()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}
