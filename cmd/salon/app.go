package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/captions"
	"github.com/salon/salon/cluster"
	"github.com/salon/salon/cluster/relay"
	"github.com/salon/salon/hls"
	"github.com/salon/salon/ingest"
	"github.com/salon/salon/ingest/demo"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/programme"
	"github.com/salon/salon/stats"
	"github.com/salon/salon/transcode"
	"github.com/salon/salon/web"
	"github.com/salon/salon/web/chat"
)

// app is one running salon: the concrete components wired together.
// Tests start several in one process.
type app struct {
	cfg        Config
	log        *slog.Logger
	adminToken string
	publishKey string

	metrics *prometheus.Registry
	store   archive.Store
	// archiveDesc names the archive for people, without secrets.
	archiveDesc string
	recorder    *archive.Recorder
	library     *archive.Library
	sponsors    *archive.Sponsors
	ctx         context.Context // cancelled by Close: background work of the app
	cancel      context.CancelFunc
	reg         *stream.Registry
	hls         *hls.Manager
	unsub       func()
	rtsp        *ingest.RTSPServer
	rtmp        *ingest.RTMPServer
	pulls       []*ingest.Puller
	demo        *demo.Source
	rooms       *chat.Rooms
	programme   *programme.Programme
	stats       *stats.Counter
	web         *web.Server
	redirect    *web.Redirector
	rtmps       *ingest.RTMPServer
	rtsps       *ingest.RTSPServer
	debug       *debugServer
	transcoder  *transcode.Transcoder
	cluster     *cluster.Node   // nil without -nats
	leases      *cluster.Leases // with cluster
	relay       *relay.Relay    // with cluster: other nodes' live files
	talkSync    *cluster.TalkSync
	settings    *cluster.Settings
	sharedFlags map[string]bool // the settings' flags at start
	stageClaims *cluster.StageClaims
	counts      *sharedCounts // with cluster: the other nodes' viewers and stats
	jobBoard    *cluster.Jobs
	leader      leaderRef
	captions    *captions.Live
}

// startApp starts every component of cfg, or nothing: on error, what was
// started is closed again.
func startApp(cfg Config, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w (check -data)", cfg.Data, err)
	}
	if a.adminToken, err = loadSecret(cfg.Data, "admin-token", cfg.AdminToken); err != nil {
		return nil, err
	}
	if a.publishKey, err = loadSecret(cfg.Data, "publish-key", cfg.PublishKey); err != nil {
		return nil, err
	}

	a.metrics = prometheus.NewRegistry()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	a.reg = &stream.Registry{Log: log.With("component", "stream")}
	if err := a.reg.Initialize(); err != nil {
		return nil, err
	}
	a.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "salon_publishers", Help: "Stages with a publisher now.",
	}, func() float64 {
		n := 0
		for _, s := range a.reg.Stages() {
			if s.Live {
				n++
			}
		}
		return float64(n)
	}))

	// The archive: the bucket (or directory), the library of talks in it, and
	// the recorder that moves every finished segment there.
	openCtx, cancelOpen := context.WithTimeout(a.ctx, 30*time.Second)
	node := "" // several nodes share the bucket: each cleans up only after itself
	if cfg.Cluster.On() {
		node = cfg.Cluster.Node
	}
	store, desc, err := archive.Open(openCtx, cfg.Archive, node, getenvOf(cfg), log.With("component", "archive"))
	cancelOpen()
	if err != nil {
		return nil, err
	}
	a.store, a.archiveDesc = store, desc
	lib := &archive.Library{Store: store, Log: log.With("component", "talks")}
	if err := lib.Initialize(a.ctx); err != nil {
		return nil, fmt.Errorf("load the talks from %s: %w", desc, err)
	}
	a.library = lib
	sponsors := &archive.Sponsors{Store: store, Log: log.With("component", "sponsors")}
	if err := sponsors.Initialize(a.ctx); err != nil {
		return nil, err
	}
	a.sponsors = sponsors
	rec := &archive.Recorder{
		Store:    store,
		SpoolDir: filepath.Join(cfg.Data, "spool"),
		MaxSpool: cfg.MaxSpool,
		Warnings: a.reg,
		Metrics:  a.metrics,
		Log:      log.With("component", "recorder"),
		// A run playlist in the bucket grew: the live talks on that stage
		// are re-cut so that their replay grows with it.
		OnRunStored: func(stage, run string) { lib.RunUpdated(a.ctx, stage) },
	}
	if err := rec.Initialize(); err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	a.recorder = rec
	log.Info("archive ready", "archive", desc, "talks", len(lib.List()))

	// With -nats, the chat's log is the cluster's replicated stream, and so
	// are the live captions'.
	if err := a.startCluster(); err != nil {
		return nil, err
	}

	liveCaps := &captions.Live{Dir: filepath.Join(cfg.Data, "captions"), Log: log.With("component", "captions")}
	if a.cluster != nil {
		liveCaps.Shared = captionLogs{a.cluster}
	}
	if err := liveCaps.Initialize(); err != nil {
		return nil, err
	}
	a.captions = liveCaps
	hm := &hls.Manager{
		Captions:        liveCaps,
		Sink:            rec,
		SegmentDuration: cfg.SegmentDuration,
		PartDuration:    cfg.PartDuration,
		Window:          cfg.Window,
		Warnings:        a.reg,
		Metrics:         a.metrics,
		Log:             log.With("component", "hls"),
	}
	if err := hm.Initialize(); err != nil {
		return nil, fmt.Errorf("hls: %w", err)
	}
	a.hls = hm
	a.unsub = a.reg.SubscribeInline("hls", a.hls.HandleEvent)

	// The day: the chat rooms and the programme need each other (a room
	// exists for a stage the programme knows; the programme tells rooms
	// which talk is on and archives their chat), so both are made before
	// either starts.
	rooms := &chat.Rooms{
		Dir:        filepath.Join(cfg.Data, "chat"),
		Log:        log.With("component", "chat"),
		SharedNets: cfg.ChatSharedNets,
		// web checks the page's origin (-chat-origins) before it hands a
		// websocket over.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if a.cluster != nil {
		rooms.Logs = chatLogs{a.cluster}
	}
	prog := &programme.Programme{
		Talks:  lib,
		Rooms:  rooms,
		Stages: a.stageView(), // with -nats, other nodes' stages have a room here too
		View:   web.TalkView(cfg.PublicURL),
		// The cues posted live are archived with their talk.
		Captions:      liveCaps,
		CaptionTracks: lib,
		Dir:           filepath.Join(cfg.Data, "programme"),
		Log:           log.With("component", "programme"),
	}
	if a.cluster != nil {
		prog.Shared, prog.Leader = a.settings, &a.leader
		prog.StageClaims = a.stageClaims // one live talk per stage across the nodes
		prog.Board = a.jobBoard          // a job whose node died is done by another
	}
	rooms.Stages = prog
	if err := rooms.Initialize(); err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	a.rooms = rooms
	if err := prog.Initialize(); err != nil {
		return nil, err
	}
	a.programme = prog
	if err := a.syncProgramme(prog); err != nil {
		return nil, err
	}
	sched := &programme.ImportService{Library: lib, Dir: filepath.Join(cfg.Data, "programme"), TimeZone: explicitLocation(cfg.Timezone),
		Log: log.With("component", "schedule")}
	if err := sched.Initialize(); err != nil {
		return nil, err
	}

	if cfg.Stats {
		// The day begins at midnight in the event's zone: -timezone, else the
		// imported schedule's (as it is at start), else the machine's.
		zone := explicitLocation(cfg.Timezone)
		if zone == nil {
			if loc, err := time.LoadLocation(sched.ScheduleZone()); err == nil && sched.ScheduleZone() != "" {
				zone = loc
			} else {
				zone = eventLocation("", os.Getenv)
			}
		}
		a.stats = &stats.Counter{
			Dir:       filepath.Join(cfg.Data, "stats"),
			Programme: prog,
			Zone:      zone,
			Log:       log.With("component", "stats"),
		}
		if err := a.stats.Initialize(); err != nil {
			a.stats = nil
			return nil, err
		}
	}

	limits, lowered := fitLimits(cfg.HTTPLimits, openFileLimit())
	if lowered {
		log.Warn("HTTP connection budget lowered to half of the open-file limit; raise the limit (ulimit -n) for more viewers",
			"http_max_conns", limits.MaxConns, "reserve", limits.ReserveConns, "open_file_limit", openFileLimit())
	}
	certs, err := newCertSource(cfg.TLS, cfg.Data, log.With("component", "tls"))
	if err != nil {
		return nil, err
	}
	ws := &web.Server{
		Address:         cfg.HTTP,
		Live:            a.hls,
		Stages:          a.stageView(),
		Gatherer:        a.metrics,
		Metrics:         a.metrics,
		PublicURL:       cfg.PublicURL,
		Log:             log.With("component", "web"),
		Talks:           lib,
		Archive:         store,
		AdminToken:      a.adminToken,
		Location:        explicitLocation(cfg.Timezone),
		DefaultLocation: eventLocation("", os.Getenv),
		Recorder:        rec,
		Chat:            rooms,
		ChatOrigins:     cfg.ChatOrigins,
		Programme:       prog,
		Slides:          lib,
		Captions:        lib,
		LiveCaptions:    liveCaps,
		Subtitles:       a.hls,
		Health:          rec,
		Schedule:        sched,
		Sponsors:        sponsors,

		MaxUploadSize: cfg.MaxUpload,
		Limits:        limits,
		SharedNets:    cfg.ChatSharedNets,
	}
	if a.stats != nil {
		ws.Stats = a.stats
		if a.counts != nil {
			ws.Stats = clusterStats{Counter: a.stats, shared: a.counts}
		}
	}
	if a.counts != nil {
		ws.OtherViewers = a.counts
	}
	if certs != nil {
		ws.TLS = certs.config
	}
	// The ingest listeners are up before /healthz answers, so that a
	// health check that passes means publishers can connect too.
	if cfg.RTSP != "" {
		a.rtsp = &ingest.RTSPServer{Address: cfg.RTSP, Key: a.publishKey, Registry: a.reg, Limits: cfg.Ingest, Metrics: a.metrics, Log: log}
		if err := a.rtsp.Initialize(); err != nil {
			a.rtsp = nil
			return nil, fmt.Errorf("%w; change -rtsp, or set it empty to disable RTSP", err)
		}
	}
	if cfg.RTMP != "" {
		a.rtmp = &ingest.RTMPServer{Address: cfg.RTMP, Key: a.publishKey, Registry: a.reg, Limits: cfg.Ingest, Metrics: a.metrics, Log: log}
		if err := a.rtmp.Initialize(); err != nil {
			a.rtmp = nil
			return nil, fmt.Errorf("%w; change -rtmp, or set it empty to disable RTMP", err)
		}
	}
	if cfg.TLS.RTSPS != "" {
		a.rtsps = &ingest.RTSPServer{Address: cfg.TLS.RTSPS, TLS: certs.config, Key: a.publishKey, Registry: a.reg, Limits: cfg.Ingest, Metrics: a.metrics, Log: log}
		if err := a.rtsps.Initialize(); err != nil {
			a.rtsps = nil
			return nil, fmt.Errorf("%w; change -rtsps, or set it empty to disable RTSPS", err)
		}
	}
	if cfg.TLS.RTMPS != "" {
		a.rtmps = &ingest.RTMPServer{Address: cfg.TLS.RTMPS, TLS: certs.config, Key: a.publishKey, Registry: a.reg, Limits: cfg.Ingest, Metrics: a.metrics, Log: log}
		if err := a.rtmps.Initialize(); err != nil {
			a.rtmps = nil
			return nil, fmt.Errorf("%w; change -rtmps, or set it empty to disable RTMPS", err)
		}
	}
	if cfg.Transcode.On() {
		// The renditions come back through salon's own ingest, exactly as
		// an encoder's renditions would.
		var rtspAddr, rtmpAddr string
		if a.rtsp != nil {
			rtspAddr = a.rtsp.Addr()
		}
		if a.rtmp != nil {
			rtmpAddr = a.rtmp.Addr()
		}
		target, err := transcodeTarget(rtspAddr, rtmpAddr, a.publishKey)
		if err != nil {
			return nil, err
		}
		tc := &transcode.Transcoder{
			Renditions: cfg.Transcode.Renditions,
			Registry:   a.reg,
			Target:     target,
			Encoder:    cfg.Transcode.Encoder,
			Device:     cfg.Transcode.Device,
			Warnings:   a.reg,
			Metrics:    a.metrics,
			Log:        log,
		}
		if err := tc.Initialize(); err != nil {
			return nil, err
		}
		a.transcoder = tc
		ws.Transcode = tc
	}
	if err := a.clusterWeb(ws); err != nil {
		return nil, err
	}
	if err := ws.Initialize(); err != nil {
		return nil, err
	}
	a.web = ws
	a.shareCounts()
	if a.leases != nil {
		// From now on the leases say where this node serves its stages.
		a.leases.SetURL(cfg.Cluster.nodeURL(ws.Addr(), certs != nil))
	}
	if cfg.TLS.Redirect != "" {
		if a.redirect, err = startRedirect(cfg.TLS.Redirect, ws.Addr(), cfg.PublicURL, certs, log.With("component", "web")); err != nil {
			return nil, err
		}
	}

	for _, p := range cfg.Pulls {
		pl := &ingest.Puller{Stage: p.Stage, URL: p.URL, Registry: a.reg, MediaTimeout: cfg.Ingest.MediaTimeout, Log: log}
		if err := pl.Initialize(); err != nil {
			return nil, fmt.Errorf("-pull %s: %w", p.Stage, err)
		}
		a.pulls = append(a.pulls, pl)
	}
	if cfg.Debug != "" {
		if a.debug, err = startDebug(cfg.Debug, log); err != nil {
			return nil, fmt.Errorf("-debug-addr %s: %w", cfg.Debug, err)
		}
	}
	if cfg.Demo {
		a.demo = &demo.Source{Stage: "main", Registry: a.reg, Log: log.With("component", "demo")}
		if err := a.demo.Initialize(); err != nil {
			a.demo = nil
			return nil, err
		}
	}
	return a, nil
}

// Close stops ingest first, so that every open segment is finished and its
// playlist closed, then the HTTP server.
func (a *app) Close() {
	if a.transcoder != nil {
		// Before ingest: the children end their renditions' publishes
		// cleanly instead of failing (and being restarted) as ingest closes.
		a.transcoder.Close()
	}
	if a.rtsp != nil {
		a.rtsp.Close()
	}
	if a.rtmp != nil {
		a.rtmp.Close()
	}
	if a.rtmps != nil {
		a.rtmps.Close()
	}
	if a.rtsps != nil {
		a.rtsps.Close()
	}
	for _, p := range a.pulls {
		p.Close()
	}
	if a.demo != nil {
		a.demo.Close()
	}
	if a.unsub != nil {
		a.unsub() // drains the queue: open segments are finished
	}
	if a.reg != nil {
		a.reg.Close()
	}
	if a.hls != nil {
		a.hls.Close() // ends open runs: the recorder closes their playlists
	}
	if a.recorder != nil {
		a.recorder.Close() // uploads what it can; the rest waits in the spool
	}
	if a.web != nil {
		a.web.Close()
	}
	if a.stats != nil {
		a.stats.Close() // after web: its sampler has stopped; writes the day
	}
	if a.redirect != nil {
		a.redirect.Close()
	}
	if a.programme != nil {
		a.programme.Close() // jobs not done stay in DATA/programme/jobs
	}
	a.closeProgrammeSync() // after the programme: it no longer writes
	if a.captions != nil {
		a.captions.Close() // after the programme: its jobs read the live cues
	}
	if a.rooms != nil {
		a.rooms.Close() // websockets are hijacked: the web server does not wait for them
	}
	if a.counts != nil {
		a.counts.close() // after web and stats: nothing reads them any more
	}
	if a.leases != nil {
		a.leases.Close() // after ingest: ended publishes have released theirs
	}
	if a.cluster != nil {
		a.cluster.Close() // after the rooms: their logs stop first
	}
	if a.debug != nil {
		a.debug.Close()
	}
	if a.cancel != nil {
		a.cancel()
	}
}
