package programme

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/salon/salon/archive"
)

// On a cluster a job is also on the Board, where every node sees it: the
// node that stops a talk posts its job (after spooling it, before saving
// the stop) and the Board renews its claim while the node lives. When the
// node dies before the job is done, its claim lapses and another node
// takes the job over (Adopt): it finishes the stop if the dead node had
// not saved it, and runs every step again from the bucket and the cluster's
// chat log — every step can be repeated, so a job run twice, or by two
// nodes at once, leaves the same library. A job done is taken off the
// Board. The local spool stays: a node started again does its own jobs.

// jobBoard is the deployment's jobs not done yet; *cluster.Jobs satisfies
// it. Post records a job owned by this node; Done takes it off.
type jobBoard interface {
	Post(ctx context.Context, talk string, job []byte) error
	Done(ctx context.Context, talk string) error
}

// boardTimeout bounds one Post or Done: the Board is a copy for the other
// nodes, and a stop never waits long for it.
const boardTimeout = 5 * time.Second

// post puts j on the Board, when there is one. A job not posted still runs
// here; only its takeover is lost, and the log says so.
func (p *Programme) post(j Job) {
	if p.Board == nil {
		return
	}
	data, _ := json.Marshal(j)
	ctx, cancel := context.WithTimeout(context.Background(), boardTimeout)
	defer cancel()
	if err := p.Board.Post(ctx, j.Talk, data); err != nil {
		p.Log.Warn("end-of-talk job not shared with the other nodes: if this node dies before it is done, it is done only when this node starts again", "talk", j.Talk, "error", err)
	}
}

// unpost takes talk's job off the Board, when there is one.
func (p *Programme) unpost(talk string) {
	if p.Board == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), boardTimeout)
	defer cancel()
	if err := p.Board.Done(ctx, talk); err != nil {
		p.Log.Warn("end-of-talk job done, but still on the board of the other nodes; one may do it again (harmless)", "talk", talk, "error", err)
	}
}

// Adopt runs a job another node posted and stopped renewing (it died):
// the Board's takeover calls it with the job as posted. A job of the same
// talk already queued here is kept instead. It does not block.
func (p *Programme) Adopt(data []byte) error {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		p.Log.Error("an end-of-talk job taken over does not read; it is dropped", "error", err)
		return fmt.Errorf("programme: job taken over: %w", err)
	}
	if !archive.ValidTalkID(j.Talk) {
		p.Log.Error("an end-of-talk job taken over names no valid talk; it is dropped", "talk", j.Talk)
		return fmt.Errorf("programme: job taken over: talk id %q: %w", j.Talk, archive.ErrInvalid)
	}
	q := &p.jobs
	q.mu.Lock()
	_, queued := q.jobs[j.Talk]
	if !queued {
		// Recovered: the dead node may not have saved the stop.
		q.jobs[j.Talk] = &jobState{job: j, recovered: true, adopted: true}
	}
	q.mu.Unlock()
	if queued {
		return nil
	}
	p.Log.Info("end-of-talk job taken over from a node that stopped renewing it; doing it here", "talk", j.Talk, "stopped_at", j.End)
	q.wake()
	return nil
}
