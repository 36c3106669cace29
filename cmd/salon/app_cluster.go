package main

import (
	"context"
	"os"
	"time"

	"github.com/salon/salon/cluster"
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
	if err := n.Initialize(ctx); err != nil {
		return err
	}
	a.cluster = n
	return nil
}

// chatLogs gives chat rooms their stages' logs on the cluster's stream.
type chatLogs struct{ node *cluster.Node }

func (c chatLogs) OpenRoomLog(stage string, deliver func([]byte)) (chat.RoomLog, error) {
	l, err := c.node.OpenChat(stage, deliver)
	if err != nil {
		return nil, err
	}
	return l, nil
}
