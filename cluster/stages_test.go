package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/internal/natstest"
)

// Four nodes claim one stage for four talks at once: one wins, the others
// get the winner. Only the holder's Release frees the stage; a stale
// holder's claim is taken over.
func TestStageClaims_OneWinner(t *testing.T) {
	t.Parallel()
	servers := natstest.Cluster(t, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	talks := []string{"t0", "t1", "t2", "t3"}
	claims := make([]*StageClaims, len(talks))
	for i := range talks {
		c, err := testNode(t, talks[i], servers.URL(0)).StageClaims(ctx)
		if err != nil {
			t.Fatal(err)
		}
		claims[i] = c
	}
	never := func(string, time.Duration) bool { return false }
	holders := make([]string, len(talks))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range talks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			h, err := claims[i].Claim(ctx, "main", talks[i], never)
			if err != nil {
				t.Error(err)
			}
			holders[i] = h
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, h := range holders {
		if h == "" {
			if winner >= 0 {
				t.Fatalf("both %s and %s claimed the stage", talks[winner], talks[i])
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("nobody claimed the stage: %v", holders)
	}
	for i, h := range holders {
		if i != winner && h != talks[winner] {
			t.Fatalf("%s was told the holder is %q, want %s", talks[i], h, talks[winner])
		}
	}
	other := (winner + 1) % len(talks)
	if err := claims[other].Release(ctx, "main", talks[other]); err != nil {
		t.Fatal(err)
	}
	if h, _ := claims[other].Claim(ctx, "main", talks[other], never); h != talks[winner] {
		t.Fatalf("after a non-holder's release the holder is %q, want %s", h, talks[winner])
	}
	var asked string
	h, err := claims[other].Claim(ctx, "main", talks[other], func(holder string, age time.Duration) bool {
		asked = holder
		return true
	})
	if err != nil || h != "" || asked != talks[winner] {
		t.Fatalf("take-over of a stale claim: holder %q, %v, asked about %q", h, err, asked)
	}
	if err := claims[other].Release(ctx, "main", talks[other]); err != nil {
		t.Fatal(err)
	}
	if h, err := claims[winner].Claim(ctx, "main", talks[winner], never); err != nil || h != "" {
		t.Fatalf("claim after release: holder %q, %v", h, err)
	}
}
