package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/salon/salon/cluster"
	"github.com/salon/salon/ingest/stream"
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
	return nil
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
