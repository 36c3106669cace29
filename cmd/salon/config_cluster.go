package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
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
	// NodeURL (-node-url) is where the other nodes reach this one's HTTP
	// port, e.g. http://10.0.0.2:8080: they fetch the live files of the
	// stages it ingests from there. Empty: derived from -http once it
	// listens, which needs -http to name an address (validateNodeURL).
	NodeURL string
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
	if v, ok := lookup(getenv, "SALON_NODE_URL"); ok {
		c.NodeURL = v
	}
	replicas := ""
	if v, ok := lookup(getenv, "SALON_NATS_REPLICAS"); ok {
		replicas = v
	}
	fs.StringVar(&c.NATS, "nats", c.NATS, "join salon nodes into one deployment: the NATS servers (with JetStream), nats://HOST:PORT[,…]; the chat is shared through them (off when empty: one node alone) ($SALON_NATS)")
	fs.StringVar(&c.Node, "node", c.Node, "this node's name in the deployment (default: the hostname) ($SALON_NODE)")
	fs.StringVar(&c.NodeURL, "node-url", c.NodeURL, "where the other nodes reach this node's HTTP port, http(s)://HOST:PORT; they fetch the live HLS of the stages it ingests from there (default: from -http when it names an address) ($SALON_NODE_URL)")
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
			if c.NodeURL != "" {
				return fmt.Errorf("-node-url needs -nats (the NATS servers)")
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

// validateNodeURL checks -node-url, or that it can be derived from the
// -http address: a node listening on every address (":8080", "0.0.0.0:8080")
// cannot tell which of them the others reach, so it must be told.
func (c *ClusterConfig) validateNodeURL(httpAddr string) error {
	if !c.On() {
		return nil
	}
	if c.NodeURL == "" {
		host, _, err := net.SplitHostPort(httpAddr)
		if err != nil {
			return nil // -http's own check names the problem
		}
		if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
			return fmt.Errorf("-node-url: -http %q listens on every address, so which one the other nodes reach is unknown; give it, e.g. -node-url http://10.0.0.2%s", httpAddr, httpAddr[strings.LastIndex(httpAddr, ":"):])
		}
		return nil
	}
	u, err := url.Parse(c.NodeURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("-node-url %q: want http(s)://HOST[:PORT], the address the other nodes reach this one's -http at", c.NodeURL)
	}
	c.NodeURL = strings.TrimRight(c.NodeURL, "/")
	return nil
}

// nodeURL is this node's URL for the others: -node-url, else -http's
// address as it listens (its port chosen when -http said 0).
func (c ClusterConfig) nodeURL(listening string, tls bool) string {
	if c.NodeURL != "" {
		return c.NodeURL
	}
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	return scheme + listening
}
