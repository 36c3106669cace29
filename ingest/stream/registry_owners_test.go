package stream

import (
	"errors"
	"sync"
	"testing"
)

// countingOwners counts the claims each stage holds.
type countingOwners struct {
	mu   sync.Mutex
	held map[string]int
}

func (o *countingOwners) Claim(stage string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.held[stage]++
	return nil
}

func (o *countingOwners) Release(stage string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.held[stage]--
}

func (o *countingOwners) count(stage string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.held[stage]
}

// A node that lost its stage ends every publish of it (source and
// renditions) with the reason, releases its claims once, and leaves the
// other stages alone; a publish that ended by itself has no reason.
func TestRegistry_EndStage(t *testing.T) {
	r := newTestRegistry(t, 16)
	owners := &countingOwners{held: map[string]int{}}
	r.Owners = owners
	src, err := r.Publish(videoStream("main"))
	if err != nil {
		t.Fatal(err)
	}
	rend, err := r.Publish(renditionStream("main", "360p"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.Publish(videoStream("side"))
	if err != nil {
		t.Fatal(err)
	}
	if owners.count("main") != 2 {
		t.Fatalf("claims of main = %d, want 2", owners.count("main"))
	}

	why := errors.New("node b holds it now")
	r.EndStage("main", why)
	for _, p := range []*Publisher{src, rend} {
		select {
		case <-p.Ended():
		default:
			t.Fatalf("publish of %s/%s not ended", p.Stream().Stage, RenditionName(p.Stream().Rendition))
		}
		if !errors.Is(p.EndReason(), why) {
			t.Errorf("EndReason = %v, want %v", p.EndReason(), why)
		}
		p.Close() // its connection closes afterwards: nothing released twice
	}
	if r.PathLive("main", "") || r.PathLive("main", "360p") {
		t.Error("stage main still live after EndStage")
	}
	if n := owners.count("main"); n != 0 {
		t.Errorf("claims of main after EndStage = %d, want 0", n)
	}
	select {
	case <-other.Ended():
		t.Fatal("EndStage(main) ended stage side")
	default:
	}
	other.Close()
	if other.EndReason() != nil {
		t.Errorf("a publish that ended by itself has reason %v", other.EndReason())
	}
}
