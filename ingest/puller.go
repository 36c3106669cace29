package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"

	"github.com/salon/salon/ingest/stream"
)

// healthyStreaming is how long a pull must stream before a drop counts as
// new trouble again, resetting the back-off to MinBackoff.
const healthyStreaming = 10 * time.Second

// Puller reads an RTSP camera and publishes it on a stage (source "pull").
// When the camera cannot be reached or drops, it ends the publish and tries
// again after a back-off that doubles from MinBackoff up to MaxBackoff.
//
// One goroutine runs the pull loop; Close cancels it and waits.
type Puller struct {
	// Stage to publish on.
	Stage string
	// URL of the camera: rtsp://[user:pass@]HOST[:PORT]/PATH (or rtsps://).
	URL      string
	Registry publishRegistry
	Log      *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between attempts
	// (defaults 1 s and 30 s).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MediaTimeout reconnects to a camera that keeps its session open but
	// sends no media for this long (default 10 s).
	MediaTimeout time.Duration

	u      *base.URL
	cancel context.CancelFunc
	done   chan struct{}
}

// ParsePull reads a -pull flag value, STAGE=rtsp://HOST/PATH.
func ParsePull(s string) (stage, url string, err error) {
	stage, url, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("-pull %q: want STAGE=rtsp://HOST/PATH, e.g. main=rtsp://192.168.1.20:554/stream1", truncate(s, 100))
	}
	stage = strings.TrimSpace(stage)
	url = strings.TrimSpace(url)
	if !stream.ValidStage(stage) {
		return "", "", fmt.Errorf("-pull %q: invalid stage name %q: use 1-64 of a-z, 0-9 and -", truncate(s, 100), truncate(stage, 80))
	}
	if _, err := parseCameraURL(url); err != nil {
		return "", "", fmt.Errorf("-pull %q: %w", truncate(s, 100), err)
	}
	return stage, url, nil
}

func parseCameraURL(s string) (*base.URL, error) {
	u, err := base.ParseURL(s)
	if err != nil {
		return nil, fmt.Errorf("invalid camera URL (%w): use rtsp://[USER:PASS@]HOST[:PORT]/PATH", err)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return nil, fmt.Errorf("camera URL scheme %q: use rtsp:// or rtsps://", truncate(u.Scheme, 20))
	}
	if u.Host == "" {
		return nil, errors.New("camera URL has no host: use rtsp://HOST[:PORT]/PATH")
	}
	return u, nil
}

// Initialize validates the configuration and starts pulling.
func (p *Puller) Initialize() error {
	if !stream.ValidStage(p.Stage) {
		return fmt.Errorf("pull: invalid stage name %q: use 1-64 of a-z, 0-9 and -", p.Stage)
	}
	u, err := parseCameraURL(p.URL)
	if err != nil {
		return fmt.Errorf("pull %s: %w", p.Stage, err)
	}
	if p.Registry == nil {
		return errors.New("pull: no registry")
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.MediaTimeout <= 0 {
		p.MediaTimeout = DefaultLimits().MediaTimeout
	}
	if p.MaxBackoff < p.MinBackoff {
		p.MaxBackoff = p.MinBackoff
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	p.u = u
	p.Log = p.Log.With("component", "pull", "stage", p.Stage, "camera", redactURL(u))
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	go p.run(ctx)
	return nil
}

// Close stops pulling, ends the publish and waits.
func (p *Puller) Close() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
}

// redactURL hides the camera's password in logs.
func redactURL(u *base.URL) string {
	return (*neturl.URL)(u).Redacted()
}

func (p *Puller) run(ctx context.Context) {
	defer close(p.done)
	backoff := p.MinBackoff
	lastReason := ""
	for attempt := 1; ; attempt++ {
		streamed, err := p.pullOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if streamed >= healthyStreaming {
			backoff, attempt, lastReason = p.MinBackoff, 1, ""
		}
		// A camera that stays down for an hour logs one warning, not 120.
		level := slog.LevelWarn
		if err.Error() == lastReason {
			level = slog.LevelDebug
		}
		lastReason = err.Error()
		p.Log.Log(ctx, level, "camera unavailable, retrying", "attempt", attempt, "retry_in", backoff.String(), "reason", lastReason)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, p.MaxBackoff)
	}
}

// pullOnce connects, publishes and streams until the camera drops or ctx
// ends. It returns how long it streamed and why it stopped.
func (p *Puller) pullOnce(ctx context.Context) (time.Duration, error) {
	errs := newLogLimiter(p.Log, 10*time.Second)
	c := &gortsplib.Client{
		Scheme:            p.u.Scheme,
		Host:              p.u.Host,
		OnPacketsLost:     func(lost uint64) { errs.log("RTP packets lost", "lost", lost) },
		OnDecodeError:     func(err error) { errs.log("cannot decode packet", "error", err.Error()) },
		OnTransportSwitch: func(err error) { p.Log.Debug("switching transport", "reason", err.Error()) },
	}
	if err := c.Start2(); err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	// Close the client as soon as the puller stops, even mid-request.
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	desc, res, err := c.Describe(p.u)
	if err != nil {
		return 0, fmt.Errorf("describe: %w", err)
	}
	remote := p.u.Host
	tracks, picker := rtpTracks(desc, res.Body)
	if err := picker.result(p.Log, p.Stage, remote); err != nil {
		return 0, err
	}
	setup := map[*description.Media]bool{}
	for _, t := range tracks {
		if setup[t.media] {
			continue
		}
		setup[t.media] = true
		if _, err := c.Setup(desc.BaseURL, t.media, 0, 0); err != nil {
			return 0, fmt.Errorf("setup %s: %w", rtpCodecName(t.format), err)
		}
	}

	refused := make(chan error, 1)
	pub := newPublication(p.Registry, p.Log, &stream.Stream{Stage: p.Stage, Source: "pull", Remote: remote}, picker.codecs)
	pub.refused = func(err error) {
		select {
		case refused <- err:
		default:
		}
	}
	defer pub.close()
	attachRTP(c, tracks, pub, errs)
	if _, err := c.Play(nil); err != nil {
		return 0, fmt.Errorf("play: %w", err)
	}
	if err := pub.start(); err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	pub.whenEnded(func(err error) {
		select {
		case refused <- err:
		default:
		}
	})
	pub.watchMedia(p.MediaTimeout, func(idle time.Duration) {
		select {
		case refused <- fmt.Errorf("no media for %s while the session stayed open", idle.Round(time.Millisecond)):
		default:
		}
	})
	began := time.Now()
	if pub.started() {
		p.Log.Info("pulling camera")
	} else {
		p.Log.Info("pulling camera; waiting for in-band parameter sets before publishing")
	}

	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }() // returns at the latest when c closes
	select {
	case <-ctx.Done():
		return time.Since(began), ctx.Err()
	case err := <-waitErr:
		return time.Since(began), fmt.Errorf("camera stream ended: %w", err)
	case err := <-refused:
		return time.Since(began), fmt.Errorf("publish ended: %w", err)
	}
}
