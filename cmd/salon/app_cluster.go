package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/salon/salon/cluster"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/programme"
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
	// Talks written here are announced to the other nodes (they read them
	// again from the bucket); the programme's shared flags are read now,
	// before the programme starts.
	a.talkSync = n.TalkSync(0)
	a.library.Notices = a.talkSync
	if a.settings, a.sharedFlags, err = n.ProgrammeSettings(ctx); err != nil {
		return err
	}
	// Each stage's live talk, claimed by compare-and-set before a start
	// writes talk.json, so two nodes cannot start two talks on one stage.
	if a.stageClaims, err = n.StageClaims(ctx); err != nil {
		return err
	}
	return nil
}

// syncProgramme shares the programme with the other nodes once it runs:
// their flags, their talk changes, and the leadership of the schedule.
func (a *app) syncProgramme(prog *programme.Programme) error {
	if a.cluster == nil {
		return nil
	}
	prog.SharedFlags(a.sharedFlags)
	a.settings.Watch(prog.SharedChanged)
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
	return nil
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
