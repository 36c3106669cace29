package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/ingest/stream"
)

// RTMPServer accepts RTMP publishers at rtmp://HOST:PORT/live/{stage}?key=KEY
// (in OBS: server rtmp://HOST:PORT/live, stream key {stage}?key=KEY).
// Reading over RTMP is refused.
//
// One goroutine serves each connection; mu guards conns and closed, and
// Close closes the listener and every connection, then waits for them. The
// listener is a guardedListener: accept errors are retried, never fatal,
// and connections that do not publish are bounded by Limits.
type RTMPServer struct {
	// Address to listen on, e.g. ":1935" or "127.0.0.1:0".
	Address string
	// TLS, when set, makes this an RTMPS port: each connection's TLS
	// handshake runs within the handshake timeout, before RTMP's.
	TLS *tls.Config
	// Key is the publish key; required.
	Key string
	// Registry receives the publishes.
	Registry publishRegistry
	// ReadTimeout drops a publisher that sends nothing for this long
	// (default 10 s).
	ReadTimeout time.Duration
	// Limits bound connections that do not publish, wrong keys and stalled
	// publishers; zero fields take their defaults.
	Limits Limits
	// Metrics, when set, receives salon_ingest_refused_total and
	// salon_ingest_accept_errors_total for this protocol.
	Metrics prometheus.Registerer
	Log     *slog.Logger

	keys     *keyGuard
	counters *ingestCounters
	ln       *guardedListener
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Initialize validates the configuration and starts listening.
func (s *RTMPServer) Initialize() error {
	if s.Address == "" {
		return errors.New("rtmp: no listen address: set one, e.g. :1935")
	}
	if s.Key == "" {
		return errors.New("rtmp: the publish key is empty: set a publish key")
	}
	if s.Registry == nil {
		return errors.New("rtmp: no registry")
	}
	if err := s.Limits.Validate(); err != nil {
		return fmt.Errorf("rtmp: %w", err)
	}
	s.Limits = s.Limits.withDefaults()
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = 10 * time.Second
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	proto := "rtmp"
	if s.TLS != nil {
		proto = "rtmps"
	}
	s.Log = s.Log.With("component", proto)
	counters, err := newIngestCounters(s.Metrics, proto)
	if err != nil {
		return fmt.Errorf("rtmp: %w", err)
	}
	s.counters = counters
	s.keys = newKeyGuard(s.Limits, counters, s.Log)
	ln, err := listenGuarded("tcp", s.Address, "RTMP", s.Limits, s.counters, s.Log)
	if err != nil {
		return fmt.Errorf("rtmp: listen on %s: %w (is another program using the port?)", s.Address, err)
	}
	s.ln = ln
	s.conns = make(map[net.Conn]struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.accept()
	s.Log.Info("listening for "+strings.ToUpper(proto)+" publishers", "address", s.Addr())
	return nil
}

// Addr returns the address the server listens on (host:port).
func (s *RTMPServer) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops accepting, disconnects every client, ends their publishes and
// waits for their goroutines.
func (s *RTMPServer) Close() {
	if s.ln == nil {
		return
	}
	s.cancel()
	s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *RTMPServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			// The guarded listener retries every accept error itself and
			// fails only once closed.
			if s.ctx.Err() == nil {
				s.Log.Error("RTMP listener closed unexpectedly; RTMP publishing stops until salon restarts", "error", err)
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(c)
		}()
	}
}

// deadline gives the peer ReadTimeout for its next message.
func (s *RTMPServer) deadline(c net.Conn) {
	now := time.Now()
	_ = c.SetReadDeadline(now.Add(s.ReadTimeout))
	_ = c.SetWriteDeadline(now.Add(s.ReadTimeout))
}

// serve runs one connection until it ends. It logs one line for a refused
// publish and one for a publish that ends.
func (s *RTMPServer) serve(c net.Conn) {
	raw := c // the guarded listener's, for promoteConn
	if s.TLS != nil {
		c = tls.Server(c, s.TLS)
	}
	remote := c.RemoteAddr().String()
	log := s.Log
	s.deadline(c)
	sc := &gortmplib.ServerConn{RW: c}
	if err := sc.Initialize(); err != nil {
		log.Debug("rtmp handshake failed", "remote", remote, "error", err)
		return
	}
	if err := sc.AcceptConn(); err != nil {
		log.Debug("rtmp connection ended before publish", "remote", remote, "error", err)
		return
	}
	addr := clientKey(c.RemoteAddr())
	// Refusals are logged at most once per address and interval, with a
	// count: anyone can make them, as often as they like.
	refuse := func(stage, code, reason string) {
		s.keys.refuse(addr, stage, reason)
		rejectRTMP(sc, code, reason)
	}
	if !sc.Publish {
		refuse("", "NetStream.Play.Failed", "salon accepts RTMP publishers only; watch on the web page")
		return
	}
	target, perr := parsePublishURL(sc.URL.Path, sc.URL.RawQuery)
	if wait := s.keys.blocked(addr); wait > 0 {
		refuse(target.Stage, "NetStream.Publish.Unauthorized", blockedReason(wait))
		return
	}
	if !target.HasKey || !keyMatches(target.Key, s.Key) {
		reason := "wrong publish key"
		if !target.HasKey {
			reason = "no publish key: use the stream key {stage}?key=KEY"
		}
		s.keys.failed(addr)
		refuse(target.Stage, "NetStream.Publish.Unauthorized", reason)
		return
	}
	s.keys.succeeded(addr)
	if perr != nil {
		refuse("", "NetStream.Publish.BadName", perr.Error())
		return
	}
	stage := target.Stage
	if s.Registry.PathLive(stage, target.Rendition) {
		refuse(stage, "NetStream.Publish.BadName", target.busyReason())
		return
	}
	// The right key: a publisher now, whom no connection limit closes (the
	// read deadlines and the media watchdog still do).
	promoteConn(raw)

	// Reader.Initialize accepts the publish and reads the first seconds to
	// learn the tracks; those messages are replayed to the callbacks.
	r := &gortmplib.Reader{Conn: sc}
	if err := r.Initialize(); err != nil {
		log.Warn("publish refused", "stage", stage, "remote", remote, "reason", "cannot read the tracks: "+err.Error())
		return
	}
	var picker trackPicker
	indexes := make([]int, len(r.Tracks()))
	for i, tr := range r.Tracks() {
		indexes[i] = picker.add(rtmpCodec(tr.Codec), rtmpCodecName(tr.Codec))
	}
	if err := picker.result(log, stage, remote); err != nil {
		var ue *unsupportedError
		errors.As(err, &ue)
		refuse(stage, "NetStream.Publish.BadName", ue.Error())
		return
	}
	pub := newPublication(s.Registry, log, &stream.Stream{Stage: stage, Rendition: target.Rendition, Source: "rtmp", Remote: remote}, picker.codecs)
	if err := pub.start(); err != nil {
		refuse(stage, "NetStream.Publish.BadName", err.Error())
		return
	}
	defer pub.close()
	pub.watchMedia(s.Limits.MediaTimeout, func(idle time.Duration) {
		log.Warn("no media from the publisher; ending its publish so that the stage is free", "stage", stage, "remote", remote,
			"idle", idle.Round(time.Millisecond).String(), "hint", "the encoder stopped sending while keeping its connection open; restart it")
		s.counters.refuse(reasonNoMedia)
		c.Close()
	})
	pub.whenEnded(func(error) { c.Close() }) // the registry logged why
	for i, tr := range r.Tracks() {
		onRTMPData(r, tr, indexes[i], pub)
	}
	var err error
	for {
		s.deadline(c)
		if err = r.Read(); err != nil {
			break
		}
	}
	reason := err.Error()
	if s.ctx.Err() != nil {
		reason = "server shutting down"
	}
	log.Info("publisher left", "stage", stage, "remote", remote, "reason", reason)
}

// rejectRTMP tells the client why its publish or play is refused; ffmpeg
// and OBS show the description.
func rejectRTMP(sc *gortmplib.ServerConn, code, description string) {
	_ = sc.Write(&message.CommandAMF0{
		ChunkStreamID:   5,
		MessageStreamID: 0x1000000,
		Name:            "onStatus",
		Arguments: []any{
			nil,
			amf0.Object{
				{Key: "level", Value: "error"},
				{Key: "code", Value: code},
				{Key: "description", Value: sanitizeReason(description)},
			},
		},
	})
}

// rtmpCodec maps a gortmplib codec to salon's, or nil when unsupported.
func rtmpCodec(c rtmpcodecs.Codec) mp4codecs.Codec {
	switch c := c.(type) {
	case *rtmpcodecs.H264:
		return &mp4codecs.H264{SPS: c.SPS, PPS: c.PPS}
	case *rtmpcodecs.H265:
		return &mp4codecs.H265{VPS: c.VPS, SPS: c.SPS, PPS: c.PPS}
	case *rtmpcodecs.MPEG4Audio:
		if c.Config == nil {
			return nil
		}
		return &mp4codecs.MPEG4Audio{Config: *c.Config}
	case *rtmpcodecs.Opus:
		channels := 2
		if c.IDHeader != nil && c.IDHeader.ChannelCount > 0 {
			channels = int(c.IDHeader.ChannelCount)
		}
		return &mp4codecs.Opus{ChannelCount: channels}
	}
	return nil
}

func rtmpCodecName(c rtmpcodecs.Codec) string {
	switch c.(type) {
	case *rtmpcodecs.H264:
		return "H.264"
	case *rtmpcodecs.H265:
		return "H.265"
	case *rtmpcodecs.MPEG4Audio:
		return "AAC"
	case *rtmpcodecs.Opus:
		return "Opus"
	case *rtmpcodecs.AV1:
		return "AV1"
	case *rtmpcodecs.VP9:
		return "VP9"
	case *rtmpcodecs.FLAC:
		return "FLAC"
	case *rtmpcodecs.MPEG1Audio:
		return "MP3"
	case *rtmpcodecs.AC3:
		return "AC-3"
	case *rtmpcodecs.G711:
		return "G.711"
	case *rtmpcodecs.LPCM:
		return "LPCM"
	}
	return fmt.Sprintf("%T", c)
}

// onRTMPData routes a track's data to the publication, or drops it when the
// track was skipped (index < 0). Every track needs a callback: gortmplib
// calls it for every message of the track.
func onRTMPData(r *gortmplib.Reader, tr *gortmplib.Track, index int, pub *publication) {
	skip := index < 0
	grid := newRTMPGrid(tr) // callbacks of one track run on one goroutine
	switch tr.Codec.(type) {
	case *rtmpcodecs.H264:
		r.OnDataH264(tr, func(pts, dts time.Duration, au [][]byte) {
			if !skip {
				pub.writeVideoDTS(index, au, grid.snap(pts), grid.snap(dts), time.Now())
			}
		})
	case *rtmpcodecs.H265:
		r.OnDataH265(tr, func(pts, dts time.Duration, au [][]byte) {
			if !skip {
				pub.writeVideoDTS(index, au, grid.snap(pts), grid.snap(dts), time.Now())
			}
		})
	case *rtmpcodecs.MPEG4Audio:
		r.OnDataMPEG4Audio(tr, func(pts time.Duration, au []byte) {
			if !skip {
				pub.writeAudio(index, [][]byte{au}, int64(grid.snap(pts)), 0, int(time.Second), time.Now())
			}
		})
	case *rtmpcodecs.Opus:
		r.OnDataOpus(tr, func(pts time.Duration, packet []byte) {
			if !skip {
				pub.writeAudio(index, [][]byte{packet}, int64(pts), 0, int(time.Second), time.Now())
			}
		})
	case *rtmpcodecs.AV1:
		r.OnDataAV1(tr, func(time.Duration, [][]byte) {})
	case *rtmpcodecs.VP9:
		r.OnDataVP9(tr, func(time.Duration, []byte) {})
	case *rtmpcodecs.FLAC:
		r.OnDataFLAC(tr, func(time.Duration, []byte) {})
	case *rtmpcodecs.MPEG1Audio:
		r.OnDataMPEG1Audio(tr, func(time.Duration, []byte) {})
	case *rtmpcodecs.AC3:
		r.OnDataAC3(tr, func(time.Duration, []byte) {})
	case *rtmpcodecs.G711:
		r.OnDataG711(tr, func(time.Duration, []byte) {})
	case *rtmpcodecs.LPCM:
		r.OnDataLPCM(tr, func(time.Duration, []byte) {})
	}
}
