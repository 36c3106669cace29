package programme

import "strings"

// On a cluster the schedule runs on one node, the leader (a lease in
// NATS): the others keep their auto flags, tell their viewers and answer
// the console, but start and stop nothing by the schedule, so an auto talk
// starts once. The flags every node must agree on — the stages in auto
// mode and the live talks the schedule started — are kept in Shared and
// applied on every node (SharedFlags, SharedChanged), so the organiser may
// switch auto mode on any node and a new leader knows which talk the
// schedule started.

// leadership says whether this node runs the schedule now;
// *cluster.Leader satisfies it.
type leadership interface {
	Leading() bool
}

// sharedFlags keeps flags where every node reads them; *cluster.Settings
// satisfies it. A flag set here comes back through SharedChanged.
type sharedFlags interface {
	Set(key string, on bool) error
}

// Keys of the shared flags.
const (
	autoFlag    = "auto."
	startedFlag = "started."
)

func (p *Programme) leading() bool { return p.Leader == nil || p.Leader.Leading() }

// LeaderChanged makes the scheduler look again: this node started or
// stopped leading.
func (p *Programme) LeaderChanged() { p.wake() }

// share sets a shared flag, when there are shared flags.
func (p *Programme) share(key string, on bool) error {
	if p.Shared == nil {
		return nil
	}
	if err := p.Shared.Set(key, on); err != nil {
		p.Log.Error("a programme flag was not shared with the other nodes", "flag", key, "on", on, "error", err)
		return err
	}
	return nil
}

// SharedFlags replaces the auto flags and the talks the schedule started
// with the cluster's (at start: the flags every node agrees on).
func (p *Programme) SharedFlags(on map[string]bool) {
	p.mu.Lock()
	p.auto, p.autoStarted = map[string]bool{}, map[string]bool{}
	for k := range on {
		p.applyFlagLocked(k, true)
	}
	p.mu.Unlock()
	p.saveSettings()
	p.wake()
}

// SharedChanged applies a flag a node (this one included) changed.
func (p *Programme) SharedChanged(key string, on bool) {
	p.mu.Lock()
	changed := p.applyFlagLocked(key, on)
	p.mu.Unlock()
	if changed {
		p.saveSettings()
		p.wake()
	}
}

// applyFlagLocked sets one flag; mu held. It reports whether it changed.
func (p *Programme) applyFlagLocked(key string, on bool) bool {
	var m map[string]bool
	var name string
	if s, ok := strings.CutPrefix(key, autoFlag); ok {
		m, name = p.auto, s
	} else if id, ok := strings.CutPrefix(key, startedFlag); ok {
		m, name = p.autoStarted, id
	} else {
		return false
	}
	if m[name] == on {
		return false
	}
	if on {
		m[name] = true
	} else {
		delete(m, name)
	}
	return true
}
