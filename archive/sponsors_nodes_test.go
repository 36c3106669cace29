package archive

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// countNotices counts SponsorsChanged calls.
type countNotices struct{ n atomic.Int32 }

func (c *countNotices) SponsorsChanged() { c.n.Add(1) }

// Two nodes on one bucket change the sponsors, each from a list that does
// not have the other's changes: neither change is lost (the index is
// written only over the version each read), each tells the others, and
// Reload shows a node what the other did. A removal of a sponsor the other
// node removed already is refused as not found.
func TestSponsors_twoNodes(t *testing.T) {
	s := libStore(t)
	ctx := t.Context()
	var notices [2]countNotices
	var nodes [2]*Sponsors
	for i := range nodes {
		nodes[i] = &Sponsors{Store: s, MaxSize: 4096, Notices: &notices[i]}
		if err := nodes[i].Initialize(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			for k := range 3 {
				if _, err := n.Add(ctx, []string{"甲", "乙"}[i]+strings.Repeat("x", k), strings.NewReader(okSVG)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for i, n := range nodes {
		if err := n.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if l := n.List(); len(l) != 6 {
			t.Fatalf("node %d lists %d sponsors after both added 3: %+v", i, len(l), l)
		}
		if got := notices[i].n.Load(); got != 3 {
			t.Errorf("node %d sent %d notices for 3 changes", i, got)
		}
	}
	victim := nodes[0].List()[0].ID
	if err := nodes[0].Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Delete(ctx, victim); err == nil || !strings.Contains(err.Error(), "another node") {
		t.Errorf("second removal of %s: %v, want not found (removed on another node)", victim, err)
	}
	if l := nodes[1].List(); len(l) != 5 {
		t.Errorf("node 1 lists %d after the refusal, want the bucket's 5", len(l))
	}
}
