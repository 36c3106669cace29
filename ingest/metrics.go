package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons an ingest port closes or refuses a client, as counted in
// salon_ingest_refused_total.
const (
	reasonHandshakeTimeout = "handshake_timeout" // did not start publishing in time
	reasonAddrLimit        = "addr_limit"        // oldest waiting connection of an address over -ingest-max-conns-per-addr
	reasonPortLimit        = "port_limit"        // oldest waiting connection of a port over -ingest-max-conns
	reasonFDLimit          = "fd_limit"          // salon near its open-file limit
	reasonWrongKey         = "wrong_key"
	reasonKeyBackoff       = "key_backoff" // the address tried too many wrong keys
	reasonNoMedia          = "no_media"    // a publisher sent no media for the media timeout
)

// ingestCounters counts refusals and accept errors of one protocol; the zero
// value (no registry) counts nothing.
type ingestCounters struct {
	refused      *prometheus.CounterVec
	acceptErrors prometheus.Counter
}

func newIngestCounters(reg prometheus.Registerer, protocol string) (*ingestCounters, error) {
	c := &ingestCounters{}
	if reg == nil {
		return c, nil
	}
	labels := prometheus.Labels{"protocol": protocol}
	c.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "salon_ingest_refused_total", ConstLabels: labels,
		Help: "Ingest connections closed or publishes refused by salon's limits, by reason.",
	}, []string{"reason"})
	c.acceptErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "salon_ingest_accept_errors_total", ConstLabels: labels,
		Help: "Failed accepts on an ingest port (retried with back-off), e.g. too many open files.",
	})
	for _, m := range []prometheus.Collector{c.refused, c.acceptErrors} {
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	for _, r := range []string{reasonHandshakeTimeout, reasonAddrLimit, reasonPortLimit, reasonFDLimit, reasonWrongKey, reasonKeyBackoff, reasonNoMedia} {
		c.refused.WithLabelValues(r) // present at 0 from the start
	}
	return c, nil
}

func (c *ingestCounters) refuse(reason string) {
	if c != nil && c.refused != nil {
		c.refused.WithLabelValues(reason).Inc()
	}
}

func (c *ingestCounters) acceptError() {
	if c != nil && c.acceptErrors != nil {
		c.acceptErrors.Inc()
	}
}
