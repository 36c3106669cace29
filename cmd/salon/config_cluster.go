package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// ClusterConfig is -nats: salon nodes that share the chat over NATS
// (package cluster). Off by default: one node works alone.
type ClusterConfig struct {
	NATS     string // -nats: comma-separated nats:// URLs of the NATS servers
	Node     string // -node: this node's name, default the hostname
	Replicas int    // -nats-replicas: the chat stream's replicas; 0 picks up to 3
}

// On reports whether salon joins a cluster.
func (c ClusterConfig) On() bool { return c.NATS != "" }

var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// clusterFlags registers the cluster flags on fs, their defaults taken from
// the environment; the returned func checks them after fs.Parse.
func clusterFlags(fs *flag.FlagSet, c *ClusterConfig, getenv func(string) string) func() error {
	if v, ok := lookup(getenv, "SALON_NATS"); ok {
		c.NATS = v
	}
	if v, ok := lookup(getenv, "SALON_NODE"); ok {
		c.Node = v
	}
	replicas := ""
	if v, ok := lookup(getenv, "SALON_NATS_REPLICAS"); ok {
		replicas = v
	}
	fs.StringVar(&c.NATS, "nats", c.NATS, "join salon nodes into one deployment: the NATS servers (with JetStream), nats://HOST:PORT[,…]; the chat is shared through them (off when empty: one node alone) ($SALON_NATS)")
	fs.StringVar(&c.Node, "node", c.Node, "this node's name in the deployment (default: the hostname) ($SALON_NODE)")
	fs.StringVar(&replicas, "nats-replicas", replicas, "replicas of the chat stream when it is created or changed: 1, 3 or 5 (default: up to 3, as many as the NATS cluster can place) ($SALON_NATS_REPLICAS)")
	return func() error {
		if replicas != "" {
			n, err := strconv.Atoi(replicas)
			if err != nil || n < 1 || n > 5 {
				return fmt.Errorf("-nats-replicas %q: a number from 1 to 5", replicas)
			}
			c.Replicas = n
		}
		if !c.On() {
			if c.Replicas != 0 {
				return fmt.Errorf("-nats-replicas needs -nats (the NATS servers)")
			}
			return nil
		}
		for _, u := range strings.Split(c.NATS, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" || pu.Port() == "" {
				return fmt.Errorf("-nats %q: want nats://HOST:PORT, comma-separated for several servers", u)
			}
			switch pu.Scheme {
			case "nats", "tls":
			default:
				return fmt.Errorf("-nats %q: the scheme must be nats:// (or tls://)", u)
			}
		}
		if c.Node == "" {
			h, err := os.Hostname()
			if err != nil {
				return fmt.Errorf("-node: the hostname is unknown (%w); name the node", err)
			}
			c.Node = h
		}
		if !nodeName.MatchString(c.Node) {
			return fmt.Errorf("-node %q: 1–64 of A-Z a-z 0-9 . _ - (a hostname works)", c.Node)
		}
		return nil
	}
}
