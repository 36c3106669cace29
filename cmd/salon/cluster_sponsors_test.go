package main

import (
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
)

// waitSponsors polls node n's sponsors until ok accepts their ids.
func waitSponsors(t *testing.T, n *app, what string, ok func(ids []string) bool) {
	t.Helper()
	var ids []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ids = ids[:0]
		for _, sp := range n.sponsors.List() {
			ids = append(ids, sp.ID)
		}
		if ok(ids) {
			return
		}
	}
	t.Fatalf("%s: sponsors on %s are %v", what, n.cfg.Cluster.Node, ids)
}

// A sponsor added on A is listed and served by B (a notice over NATS, the
// list read again from the bucket); one added on B at about the same time
// is kept too; a removal on B is seen on A.
func TestCluster_sponsorsAcrossNodes(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 3)
	apps, _ := clusterApps(t, servers, 2)
	a, b := apps[0], apps[1]
	first := addSponsor(t, a, "第一赞助商")
	second := addSponsor(t, b, "Second Sponsor")
	both := func(ids []string) bool { return len(ids) == 2 && ids[0] == first && ids[1] == second }
	waitSponsors(t, a, "added on A then B", both)
	waitSponsors(t, b, "added on A then B", both)
	if code, body, _ := get(t, b.httpURL("/sponsors/"+first)); code != 200 || len(body) == 0 {
		t.Errorf("B serves A's sponsor's logo: %d, %d bytes", code, len(body))
	}
	if code, m := api(t, b, "DELETE", "/api/sponsors/"+first, ""); code != 204 {
		t.Fatalf("remove on B: %d %v", code, m)
	}
	waitSponsors(t, a, "removed on B", func(ids []string) bool { return len(ids) == 1 && ids[0] == second })
}
