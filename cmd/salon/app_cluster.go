package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/salon/salon/captions"
	"github.com/salon/salon/cluster"
	"github.com/salon/salon/cluster/relay"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/programme"
	"github.com/salon/salon/web"
	"github.com/salon/salon/web/chat"
)

// startCluster joins the NATS cluster of -nats, or does nothing without it.
func (a *app) startCluster() error {
	c := a.cfg.Cluster
	if !c.On() {
		return nil
	}
	name := c.Node
	if name == "" {
		name, _ = os.Hostname()
	}
	n := &cluster.Node{URLs: c.NATS, Name: name, Replicas: c.Replicas, Log: a.log.With("component", "cluster")}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	err := n.Initialize(ctx)
	if err != nil {
		return err
	}
	a.cluster = n
	// Which node ingests which stage: a lease per stage in NATS, claimed
	// where the registry admits a publisher.
	if a.leases, err = n.IngestLeases(ctx, 0); err != nil {
		return err
	}
	// A stage this node lost (cut off from NATS past the lease's TTL, or
	// taken by another node meanwhile) ends its publish here, so that the
	// encoder reconnects to the node that holds it.
	a.leases.Lost = a.reg.EndStage
	a.reg.Owners = stageOwners{a.leases}
	if c.NodeURL != "" {
		a.leases.SetURL(c.NodeURL) // before any publish can claim a stage
	}
	// Talks written here are announced to the other nodes (they read them
	// again from the bucket); the programme's shared flags are read now,
	// before the programme starts.
	a.talkSync = n.TalkSync(0)
	a.library.Notices = a.talkSync
	a.sponsors.Notices = a.talkSync // the sponsors' list too
	if a.settings, a.sharedFlags, err = n.ProgrammeSettings(ctx); err != nil {
		return err
	}
	// Each stage's live talk, claimed by compare-and-set before a start
	// writes talk.json, so two nodes cannot start two talks on one stage.
	if a.stageClaims, err = n.StageClaims(ctx); err != nil {
		return err
	}
	// What every node counts now (live viewers, the day's statistics),
	// summed where the organiser looks.
	nc, err := n.NodeCounts(ctx, 0)
	if err != nil {
		return err
	}
	a.counts = newSharedCounts(nc, a.log.With("component", "cluster"))
	// The end-of-talk jobs not done yet, where every node sees them: a
	// job whose node died is taken over by another (once the programme runs).
	if a.jobBoard, err = n.JobBoard(ctx, 0); err != nil {
		return err
	}
	return nil
}

// shareCounts starts telling the other nodes what this node counts.
func (a *app) shareCounts() {
	if a.counts == nil {
		return
	}
	a.counts.start(func() nodeCounts {
		c := nodeCounts{Viewers: a.web.LocalViewers()}
		if a.stats != nil {
			d, _ := a.stats.Day("")
			c.Day = &d
		}
		return c
	})
}

// clusterWeb lets ws serve every node's stages: it lists the stages other
// nodes ingest beside this one's, and relays their live files.
func (a *app) clusterWeb(ws *web.Server) error {
	if a.leases == nil {
		return nil
	}
	r := &relay.Relay{
		Self:    a.cluster.Name,
		Owners:  relayOwners{a.leases},
		Local:   a.reg,
		Metrics: a.metrics,
		Log:     a.log.With("component", "relay"),
	}
	if err := r.Initialize(); err != nil {
		return err
	}
	a.relay = r
	ws.Relay = r
	return nil
}

// stageView is what web and the programme see of the stages: the stream
// registry's, and with -nats the stages other nodes ingest too (so that
// they are listed, served and have a chat room on every node).
type stageView interface {
	Stages() []stream.StageInfo
	Known(stage string) bool
	Live(stage string) bool
}

func (a *app) stageView() stageView {
	if a.leases == nil {
		return a.reg
	}
	return clusterStages{reg: a.reg, leases: a.leases, self: a.cluster.Name}
}

// relayOwners gives the relay the ingest leases.
type relayOwners struct{ l *cluster.Leases }

func (o relayOwners) Owner(stage string) (node, url, claim string, ok bool) {
	own, ok := o.l.Owner(stage)
	return own.Node, own.URL, own.Since.Format(time.RFC3339Nano), ok
}

// clusterStages are the stream registry's stages and those other nodes
// ingest (their leases): every node lists every live stage, with the node
// that ingests it. A stage another node ingests shows only its name, that
// node and since when; its tracks and bitrates are on that node's API.
type clusterStages struct {
	reg    *stream.Registry
	leases *cluster.Leases
	self   string
}

func (c clusterStages) Stages() []stream.StageInfo {
	infos := c.reg.Stages()
	at := make(map[string]int, len(infos))
	for i := range infos {
		if infos[i].Live {
			infos[i].Node = c.self
		}
		at[infos[i].Name] = i
	}
	for _, o := range c.leases.Owners() {
		if o.Node == c.self {
			continue
		}
		since := o.Since
		info := stream.StageInfo{Name: o.Stage, Live: true, Node: o.Node}
		if !since.IsZero() {
			info.Since = &since
		}
		i, ok := at[o.Stage]
		switch {
		case !ok:
			infos = append(infos, info)
		case !infos[i].Live: // published here before, elsewhere now
			infos[i] = info
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos
}

func (c clusterStages) remote(stage string) bool {
	o, ok := c.leases.Owner(stage)
	return ok && o.Node != c.self
}

func (c clusterStages) Known(stage string) bool { return c.reg.Known(stage) || c.remote(stage) }
func (c clusterStages) Live(stage string) bool  { return c.reg.Live(stage) || c.remote(stage) }

// syncProgramme shares the programme with the other nodes once it runs:
// their flags, their talk changes, and the leadership of the schedule.
func (a *app) syncProgramme(prog *programme.Programme) error {
	if a.cluster == nil {
		return nil
	}
	prog.SharedFlags(a.sharedFlags)
	a.settings.Watch(prog.SharedChanged)
	a.talkSync.OnSponsors(a.sponsors.Reload)
	if err := a.talkSync.Start(prog.Refresh, prog.RefreshAll); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	l, err := a.cluster.LeaderElection(ctx, 0, func(bool) { prog.LeaderChanged() })
	if err != nil {
		return err
	}
	a.leader.l.Store(l)
	return a.jobBoard.Watch(func(_ string, job []byte) { prog.Adopt(job) })
}

// closeProgrammeSync stops sharing the programme (the leadership is given
// up, so another node takes the schedule over at once).
func (a *app) closeProgrammeSync() {
	if l := a.leader.l.Load(); l != nil {
		l.Close()
	}
	if a.talkSync != nil {
		a.talkSync.Close()
	}
	if a.settings != nil {
		a.settings.Close()
	}
	if a.jobBoard != nil {
		a.jobBoard.Close() // jobs not done lapse: another node takes them over
	}
}

// leaderRef gives the programme the cluster's leadership, which starts
// after the programme (nil until then: not leading).
type leaderRef struct {
	l atomic.Pointer[cluster.Leader]
}

func (r *leaderRef) Leading() bool {
	l := r.l.Load()
	return l != nil && l.Leading()
}

// stageOwners gives the stream registry the cluster's ingest leases.
type stageOwners struct{ l *cluster.Leases }

func (o stageOwners) Claim(stage string) error {
	err := o.l.Claim(stage)
	if errors.Is(err, cluster.ErrLeased) {
		return fmt.Errorf("%w: %w", stream.ErrStageBusy, err)
	}
	return err
}

func (o stageOwners) Release(stage string) { o.l.Release(stage) }

// chatLogs gives chat rooms their stages' logs on the cluster's stream.
type chatLogs struct{ node *cluster.Node }

func (c chatLogs) OpenRoomLog(stage string, deliver func([]byte)) (chat.RoomLog, error) {
	l, err := c.node.OpenChat(stage, deliver)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// captionLogs gives the live captions the cluster's captions stream.
type captionLogs struct{ node *cluster.Node }

func (c captionLogs) OpenCues(keep time.Duration, deliver func(stage string, rec []byte)) (captions.CueLog, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := c.node.OpenCaptions(ctx, keep, deliver)
	if err != nil {
		return nil, err
	}
	return l, nil
}
