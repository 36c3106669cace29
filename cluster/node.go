// Package cluster joins salon nodes into one deployment over NATS: the
// chat's per-stage log is a replicated JetStream stream that every node
// applies in the same order (chatlog.go), and which node ingests a stage is
// a lease in a JetStream key-value bucket (lease.go). It does not import
// salon's other packages: they declare the small interfaces they need and
// cmd/salon adapts.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ChatStream is the JetStream stream of every stage's chat; stage S's
// records are on subject ChatSubject(S).
const ChatStream = "SALON_CHAT"

// ChatSubject is the subject of a stage's chat records.
func ChatSubject(stage string) string { return "salon.chat." + stage }

// Defaults of the chat stream's limits: the chat of a conference week,
// bounded in bytes on each server.
const (
	DefaultChatMaxAge   = 7 * 24 * time.Hour
	DefaultChatMaxBytes = 1 << 30
	// maxRecord is the largest chat record a stream message may carry; a
	// record is a message of 500 characters and its metadata.
	maxRecord = 64 << 10
	// dedupWindow is how long a record's id keeps a retried publish from
	// being stored twice: far longer than any retry.
	dedupWindow = 2 * time.Minute
)

// Node is this salon's connection to the deployment's NATS servers.
//
// Its fields are set before Initialize and not changed after; the
// connection is safe for concurrent use.
type Node struct {
	// parameters
	URLs string // comma-separated nats:// URLs, as -nats takes them
	Name string // this node's name (-node), in logs, the NATS connection and ingest leases
	// Replicas of the chat stream when this node creates it; 0 picks the
	// most of 3 that the cluster can place (1 for a single server). An
	// existing stream keeps its replicas unless Replicas is set.
	Replicas     int
	ChatMaxAge   time.Duration // default DefaultChatMaxAge
	ChatMaxBytes int64         // per server, default DefaultChatMaxBytes
	Log          *slog.Logger

	// private
	nc   *nats.Conn
	js   jetstream.JetStream
	chat jetstream.Stream
}

// Initialize connects to NATS and makes sure the chat stream exists.
// Unreachable servers are an error that says what to check.
func (n *Node) Initialize(ctx context.Context) error {
	if n.URLs == "" {
		return errors.New("cluster: no NATS URLs (-nats)")
	}
	if n.Name == "" {
		return errors.New("cluster: the node has no name (-node)")
	}
	if n.Log == nil {
		n.Log = slog.New(slog.DiscardHandler)
	}
	n.Log = n.Log.With("node", n.Name)
	if n.ChatMaxAge <= 0 {
		n.ChatMaxAge = DefaultChatMaxAge
	}
	if n.ChatMaxBytes <= 0 {
		n.ChatMaxBytes = DefaultChatMaxBytes
	}
	nc, err := nats.Connect(n.URLs,
		nats.Name("salon "+n.Name),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1), // a node lost is normal: keep trying the others
		nats.ReconnectWait(250*time.Millisecond),
		// Nothing is buffered while disconnected: a publish then fails at
		// once and is retried by its caller with the same id, or reported
		// as not made. A buffered one would be sent when the connection
		// came back, after its caller had told the viewer it failed.
		nats.ReconnectBufSize(-1),
		// A connection that stopped answering (the network cut, not
		// closed) is given up after 2 pings 5 s apart, not the default
		// 4 minutes: the node then reconnects as soon as the network is back.
		nats.PingInterval(5*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				n.Log.Warn("NATS connection lost; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.Log.Info("NATS connection back", "server", c.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w (check -nats and that the servers run with JetStream)", redact(n.URLs), err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return fmt.Errorf("NATS JetStream: %w", err)
	}
	if err := n.ensureChatStream(ctx); err != nil {
		nc.Close()
		return err
	}
	n.Log.Info("joined the NATS cluster", "server", nc.ConnectedUrlRedacted(), "cluster", nc.ConnectedClusterName(),
		"chat_replicas", n.chat.CachedInfo().Config.Replicas)
	return nil
}

// Close closes the connection: chat logs stop delivering.
func (n *Node) Close() {
	if n.nc != nil {
		// Drain would wait for subscriptions; the hubs are closed first.
		n.nc.Close()
	}
}

// replicas is how many replicas the buckets and streams this node creates
// beside the chat stream get: as many as the chat stream has, so that they
// survive the same server losses; 1 before it is open.
func (n *Node) replicas() int {
	if n.chat == nil {
		return 1
	}
	return n.chat.CachedInfo().Config.Replicas
}

// ensureChatStream creates the chat stream, or updates its limits.
func (n *Node) ensureChatStream(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:        ChatStream,
		Description: "salon chat: one subject per stage; every node applies it in order",
		Subjects:    []string{ChatSubject("*")},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      n.ChatMaxAge,
		MaxBytes:    n.ChatMaxBytes,
		MaxMsgSize:  maxRecord,
		Duplicates:  dedupWindow,
	}
	s, err := n.lookupStream(ctx, ChatStream)
	switch {
	case err == nil:
		cfg.Replicas = s.CachedInfo().Config.Replicas
		if n.Replicas > 0 {
			cfg.Replicas = n.Replicas
		}
		if s, err = n.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("update the NATS chat stream %s: %w", ChatStream, err)
		}
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if s, err = n.createChatStream(ctx, cfg); err != nil {
			return err
		}
	default:
		return fmt.Errorf("look up the NATS chat stream %s: %w (is JetStream enabled on the servers?)", ChatStream, err)
	}
	n.chat = s
	return nil
}

// lookupStream reads a stream's info (askJS).
func (n *Node) lookupStream(ctx context.Context, name string) (jetstream.Stream, error) {
	return askJS(ctx, n.Log, "stream "+name, func(ctx context.Context) (jetstream.Stream, error) { return n.js.Stream(ctx, name) })
}

// createChatStream creates the stream with Replicas, or with the most of
// 3, 2, 1 that the cluster can place.
func (n *Node) createChatStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	tries := []int{3, 2, 1}
	if n.Replicas > 0 {
		tries = []int{n.Replicas}
	}
	var first error
	for _, r := range tries {
		cfg.Replicas = r
		s, err := askJS(ctx, n.Log, "stream "+ChatStream, func(ctx context.Context) (jetstream.Stream, error) { return n.js.CreateStream(ctx, cfg) })
		if err == nil {
			if r < 3 && n.Replicas == 0 {
				n.Log.Warn("the chat stream has fewer than 3 replicas: the cluster could not place more (a single server, or servers down); set -nats-replicas once they run", "replicas", r)
			}
			return s, nil
		}
		if s, err2 := n.lookupStream(ctx, ChatStream); err2 == nil {
			return s, nil // another node created it meanwhile
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("create the NATS chat stream %s: %w", ChatStream, first)
}

// redact drops user:password@ from URLs for logs and errors.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if s := strings.Index(u, "://"); s >= 0 && s < at {
				parts[i] = u[:s+3] + "…@" + u[at+1:]
			}
		}
	}
	return strings.Join(parts, ",")
}
