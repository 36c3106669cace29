package programme

import "context"

// On a cluster, another node may change a talk: start or stop it, edit it,
// delete it. That node's programme tells the stage's viewers (the talk
// frame goes through the stage's chat log to every node), and this node
// reads the talk again when it hears of the change (Refresh) or when it
// may have missed changes (RefreshAll). Both only note what the viewers
// were told, so that this node's scheduler does not tell them a second
// time.

// Refresh reads talk id again from the store after another node changed
// it.
func (p *Programme) Refresh(ctx context.Context, id string) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	stages := map[string]bool{}
	if t, err := p.Talks.Get(id); err == nil {
		stages[t.Stage] = true
	}
	err := p.Talks.Reload(ctx, id)
	if t, gerr := p.Talks.Get(id); gerr == nil {
		stages[t.Stage] = true
	}
	p.noteTold(stages)
	return err
}

// RefreshAll reads every talk again from the store (this node may have
// missed other nodes' changes: its NATS connection was lost).
func (p *Programme) RefreshAll(ctx context.Context) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	err := p.Talks.ReloadAll(ctx)
	stages := map[string]bool{}
	p.mu.Lock()
	for s := range p.told {
		stages[s] = true
	}
	p.mu.Unlock()
	for _, t := range p.Talks.List() {
		stages[t.Stage] = true
	}
	p.noteTold(stages)
	return err
}

// noteTold records the talk live on each of stages as told; opMu held.
func (p *Programme) noteTold(stages map[string]bool) {
	fps := map[string]string{}
	for s := range stages {
		if t, ok := p.Talks.LiveOn(s); ok {
			fps[s] = fingerprint(t)
		} else {
			fps[s] = ""
		}
	}
	p.mu.Lock()
	for s, fp := range fps {
		p.told[s] = fp
	}
	p.mu.Unlock()
}
