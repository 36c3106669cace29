package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TalkSubject is the subject of the notices that talk id changed.
func TalkSubject(id string) string { return talkSubjectPrefix + id }

const talkSubjectPrefix = "salon.talks."

// SponsorSubject is the subject of the notices that the sponsors' list
// changed; the talk notice stream keeps them too, and TalkSync delivers
// them to its sponsors callback.
const SponsorSubject = "salon.sponsors"

// TalkStream keeps the talk notices for a few minutes (the last one of each
// talk), so that a node receives every notice sent after its consumer
// started, whichever server it is on, and those sent while its connection
// was being moved to another server.
const TalkStream = "SALON_TALKS"

// talkNoticeAge is how long the stream keeps a notice.
const talkNoticeAge = 10 * time.Minute

// DefaultResyncEvery is how often a node reads the whole library again,
// whatever notices it got: the bound on how long a notice lost without a
// disconnection (a server's slow-consumer drop) leaves it stale.
const DefaultResyncEvery = time.Minute

// talkNotice is a notice's body: which node wrote the talk.
type talkNotice struct {
	Node string `json:"node"`
}

// TalkSync tells the other nodes when this node changed a talk (or the
// sponsors' list), and has this node read again the talks (the list) the
// others changed. The bucket holds the
// talks; a notice is only a hint to read one again: it is published without
// waiting for an acknowledgement, kept by the stream TalkStream and read by
// an ordered consumer of each node from the moment it starts (a plain
// subscription would miss notices until its interest reached every server
// of the cluster). What a node may still have missed — a notice published
// while the stream had no leader, a consumer recreated too late — it
// catches up on by reading the whole library again: when its connection
// comes back, and every ResyncEvery.
//
// Notices are applied on one goroutine, never on NATS's: several notices of
// one talk that arrive while it is busy are applied once.
type TalkSync struct {
	// parameters
	ResyncEvery time.Duration // default DefaultResyncEvery

	// callbacks (set by Start), called on the sync goroutine, one at a time
	// Reload reads talk id again (it changed on another node).
	Reload func(ctx context.Context, id string) error
	// ReloadAll reads every talk again.
	ReloadAll func(ctx context.Context) error
	// ReloadSponsors, optional (set by OnSponsors), reads the sponsors'
	// list again: on a notice, and with every ReloadAll.
	ReloadSponsors func(ctx context.Context) error

	// private
	node   *Node
	cc     jetstream.ConsumeContext
	status chan nats.Status
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wakeC  chan struct{}

	mu       sync.Mutex
	pending  map[string]bool // talks to read again
	all      bool            // read everything again
	sponsors bool            // read the sponsors again
}

// reloadTimeout bounds one reload of a talk or of the library.
const reloadTimeout = 30 * time.Second

// TalkSync makes this node's talk sync: Changed works at once; Start
// subscribes to the other nodes' notices. Close it before the Node.
func (n *Node) TalkSync(resyncEvery time.Duration) *TalkSync {
	if resyncEvery <= 0 {
		resyncEvery = DefaultResyncEvery
	}
	s := &TalkSync{ResyncEvery: resyncEvery, node: n, wakeC: make(chan struct{}, 1), pending: map[string]bool{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// OnSponsors has the sync read the sponsors' list again (reload) when
// another node changed it, and at every resync. Call it before Start.
func (s *TalkSync) OnSponsors(reload func(context.Context) error) { s.ReloadSponsors = reload }

// Start subscribes to the other nodes' talk notices, with the callbacks
// Reload and ReloadAll.
func (s *TalkSync) Start(reload func(context.Context, string) error, reloadAll func(context.Context) error) error {
	if reload == nil || reloadAll == nil {
		return errors.New("cluster: talk sync needs its reload callbacks")
	}
	s.Reload, s.ReloadAll = reload, reloadAll
	n := s.node
	ctx, cancel := context.WithTimeout(s.ctx, reloadTimeout)
	defer cancel()
	stream, err := n.createOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              TalkStream,
		Description:       "salon: notices that a node changed a talk or the sponsors (read it again from the bucket)",
		Subjects:          []string{TalkSubject("*"), SponsorSubject},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            talkNoticeAge,
		MaxMsgsPerSubject: 1,
		MaxMsgSize:        1 << 10,
		Replicas:          n.replicas(),
	})
	if err != nil {
		return fmt.Errorf("open the NATS talk notice stream %s: %w", TalkStream, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("read the NATS talk notice stream %s: %w", TalkStream, err)
	}
	if s.cc, err = cons.Consume(func(m jetstream.Msg) { s.receive(m.Subject(), m.Data()) }); err != nil {
		return fmt.Errorf("read the NATS talk notice stream %s: %w", TalkStream, err)
	}
	// Status changes come on their own channel: a reconnection means
	// notices may have been missed meanwhile.
	s.status = n.nc.StatusChanged(nats.CONNECTED)
	s.wg.Add(1)
	go s.run(s.status)
	return nil
}

// Changed tells the other nodes that this node wrote talk id (its
// talk.json, or deleted it, or its speaker link). It does not block: the
// notice is queued on the connection, and lost if the connection is down
// (the others catch up when they next read everything again).
func (s *TalkSync) Changed(id string) {
	b, _ := json.Marshal(talkNotice{Node: s.node.Name})
	if err := s.node.nc.Publish(TalkSubject(id), b); err != nil {
		s.node.Log.Warn("talk change notice not sent; the other nodes see it at their next resync", "talk", id, "err", err)
	}
}

// SponsorsChanged tells the other nodes that this node wrote the sponsors'
// list. Like Changed, it does not block.
func (s *TalkSync) SponsorsChanged() {
	b, _ := json.Marshal(talkNotice{Node: s.node.Name})
	if err := s.node.nc.Publish(SponsorSubject, b); err != nil {
		s.node.Log.Warn("sponsors change notice not sent; the other nodes see it at their next resync", "err", err)
	}
}

func (s *TalkSync) receive(subject string, data []byte) {
	var n talkNotice
	if json.Unmarshal(data, &n) != nil || n.Node == s.node.Name {
		return // ours, or not a notice
	}
	id, ok := strings.CutPrefix(subject, talkSubjectPrefix)
	s.mu.Lock()
	switch {
	case subject == SponsorSubject:
		s.sponsors = true
	case ok:
		s.pending[id] = true
	}
	s.mu.Unlock()
	s.wake()
}

func (s *TalkSync) wake() {
	select {
	case s.wakeC <- struct{}{}:
	default:
	}
}

// run applies the notices and the resyncs.
func (s *TalkSync) run(status chan nats.Status) {
	defer s.wg.Done()
	t := time.NewTicker(s.ResyncEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wakeC:
		case _, ok := <-status:
			if !ok {
				status = nil
				continue
			}
			s.node.Log.Info("NATS connection back: reading the talk library again for changes missed meanwhile")
			s.mu.Lock()
			s.all = true
			s.mu.Unlock()
		case <-t.C:
			s.mu.Lock()
			s.all = true
			s.mu.Unlock()
		}
		s.mu.Lock()
		all, ids, sponsors := s.all, s.pending, s.sponsors
		s.all, s.pending, s.sponsors = false, map[string]bool{}, false
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(s.ctx, reloadTimeout)
		if (all || sponsors) && s.ReloadSponsors != nil {
			if err := s.ReloadSponsors(ctx); err != nil {
				s.node.Log.Warn("reading the sponsors' list again failed; retried at the next resync", "err", err)
			}
		}
		if all {
			if err := s.ReloadAll(ctx); err != nil {
				s.node.Log.Warn("reading the talk library again failed; retried at the next resync", "err", err)
			}
		} else {
			for id := range ids {
				if err := s.Reload(ctx, id); err != nil {
					s.node.Log.Warn("reading a talk changed on another node failed; retried at the next resync", "talk", id, "err", err)
				}
			}
		}
		cancel()
	}
}

// Close stops receiving notices.
func (s *TalkSync) Close() {
	if s.cc != nil {
		s.cc.Stop()
	}
	s.cancel()
	s.wg.Wait()
	if s.status != nil {
		s.node.nc.RemoveStatusListener(s.status)
	}
}
