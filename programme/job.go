package programme

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/internal/durable"
)

// Job is the end-of-talk work of one stopped talk, spooled as
// Dir/jobs/{talk}.json (write, fsync, rename) before the stop is
// acknowledged, and deleted once done: the talk's chat slice saved as
// talks/{id}/chat.jsonl, the presenter's slide changes saved (with
// talks/{id}/slides.vtt), and the replay re-cut until it is final. Every
// step can be repeated, so a job interrupted by a crash is simply done
// again at the next start. A do_not_record talk's job publishes nothing.
type Job struct {
	Talk  string `json:"talk"`
	Stage string `json:"stage"`
	// Start and End are the recording window the stop closed. A job found
	// at start whose talk is still live from Start finishes the stop at End
	// (salon died between spooling the job and saving the stop).
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Created time.Time `json:"created"`
}

const (
	jobBackoffMin = time.Second
	jobBackoffMax = time.Minute
)

// errNotFinal: the replay does not reach the talk's end yet.
var errNotFinal = errors.New("the stored recording does not reach the talk's end yet")

// jobQueue holds the jobs not done yet. mu guards it; the worker goroutine
// is the only one that runs jobs.
type jobQueue struct {
	mu    sync.Mutex
	jobs  map[string]*jobState
	wakeC chan struct{}
	// doneC is closed and replaced when a job finishes, idleC when the
	// worker is about to wait (tests drive the worker with them).
	doneC chan struct{}
	idleC chan struct{}
}

type jobState struct {
	job Job
	// recovered: left by a previous run, or by a node that died (adopted),
	// whose stop may not have been saved.
	recovered bool
	// adopted: taken over from another node (job_board.go); the talk is
	// read again from the store before the job runs.
	adopted  bool
	attempts int
	next     time.Time // earliest next attempt
	chatDone bool
	slides   bool
	captions bool
}

func (q *jobQueue) init() {
	q.jobs = map[string]*jobState{}
	q.wakeC = make(chan struct{}, 1)
	q.doneC = make(chan struct{})
	q.idleC = make(chan struct{})
}

// idle returns a channel closed the next time the worker waits, its timer
// for the next attempt (if any) armed.
func (q *jobQueue) idle() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.idleC
}

// load reads the jobs a previous run left in the spool.
func (q *jobQueue) load(p *Programme) error {
	q.init()
	entries, err := os.ReadDir(p.jobDir())
	if err != nil {
		return fmt.Errorf("programme: read the job spool %s: %w", p.jobDir(), err)
	}
	for _, e := range entries {
		path := filepath.Join(p.jobDir(), e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".tmp"):
			os.Remove(path) // a write that never completed: its stop was not acknowledged
			continue
		case !strings.HasSuffix(e.Name(), ".json"):
			continue
		}
		data, err := os.ReadFile(path)
		var j Job
		if err == nil {
			err = json.Unmarshal(data, &j)
		}
		if err == nil && (!archive.ValidTalkID(j.Talk) || j.Talk+".json" != e.Name()) {
			err = fmt.Errorf("talk id %q does not match the file name", j.Talk)
		}
		if err != nil {
			p.Log.Error("skipping an end-of-talk job that does not load; fix or delete the file", "file", path, "error", err)
			continue
		}
		q.jobs[j.Talk] = &jobState{job: j, recovered: true}
	}
	if len(q.jobs) > 0 {
		p.Log.Info("end-of-talk jobs left by the last run: doing them now", "jobs", len(q.jobs))
	}
	return nil
}

func (p *Programme) jobPath(talk string) string { return filepath.Join(p.jobDir(), talk+".json") }

// spool writes the job durably.
func (q *jobQueue) spool(p *Programme, j Job) error {
	data, _ := json.MarshalIndent(j, "", "  ")
	if err := durable.WriteFile(p.jobPath(j.Talk), append(data, '\n'), 0o644); err != nil {
		p.Log.Error("end-of-talk job not spooled: the talk is not stopped", "talk", j.Talk, "error", err)
		return fmt.Errorf("the talk is not stopped: its end-of-talk work could not be written to %s: %w; check the data directory's disk", p.jobDir(), err)
	}
	return nil
}

// drop removes a spooled job whose stop failed.
func (q *jobQueue) drop(p *Programme, talk string) {
	if err := os.Remove(p.jobPath(talk)); err != nil && !errors.Is(err, os.ErrNotExist) {
		p.Log.Warn("could not remove the job of a stop that failed; it is redone at the next start", "talk", talk, "error", err)
	}
	p.unpost(talk)
}

// add queues a spooled job for the worker.
func (q *jobQueue) add(j Job) {
	q.mu.Lock()
	q.jobs[j.Talk] = &jobState{job: j}
	q.mu.Unlock()
	q.wake()
}

// wake tells the worker a job was queued.
func (q *jobQueue) wake() {
	select {
	case q.wakeC <- struct{}{}:
	default:
	}
}

// pending is the number of jobs not done, and a channel closed when one is.
func (q *jobQueue) pending() (int, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs), q.doneC
}

// PendingJobs is the number of end-of-talk jobs not done yet.
func (p *Programme) PendingJobs() int {
	n, _ := p.jobs.pending()
	return n
}

// runJobs is the worker: it does due jobs one at a time, in talk order, and
// sleeps until the next is due or one is added.
func (p *Programme) runJobs() {
	defer p.wg.Done()
	q := &p.jobs
	for {
		now := p.Clock.Now()
		q.mu.Lock()
		var due []*jobState
		var next time.Time
		for _, js := range q.jobs {
			if !js.next.After(now) {
				due = append(due, js)
			} else if next.IsZero() || js.next.Before(next) {
				next = js.next
			}
		}
		q.mu.Unlock()
		slices.SortFunc(due, func(a, b *jobState) int { return strings.Compare(a.job.Talk, b.job.Talk) })
		for _, js := range due {
			if p.ctx.Err() != nil {
				return
			}
			err := p.runJob(js)
			q.mu.Lock()
			if q.jobs[js.job.Talk] != js {
				q.mu.Unlock()
				continue // replaced by a newer stop of the same talk meanwhile
			}
			if err == nil {
				delete(q.jobs, js.job.Talk)
				if rerr := os.Remove(p.jobPath(js.job.Talk)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					p.Log.Warn("end-of-talk job done, but its spool file remains; it is redone (harmlessly) at the next start", "talk", js.job.Talk, "error", rerr)
				}
				q.mu.Unlock()
				p.unpost(js.job.Talk)
				q.mu.Lock()
				close(q.doneC)
				q.doneC = make(chan struct{})
				q.mu.Unlock()
				continue
			}
			js.attempts++
			backoff := min(jobBackoffMin<<min(js.attempts-1, 10), jobBackoffMax)
			js.next = p.Clock.Now().Add(backoff)
			if next.IsZero() || js.next.Before(next) {
				next = js.next
			}
			q.mu.Unlock()
			if errors.Is(err, errNotFinal) {
				p.Log.Debug("replay not final yet; re-cut again later", "talk", js.job.Talk, "in", backoff)
			} else {
				p.Log.Warn("end-of-talk work failed; retrying", "talk", js.job.Talk, "attempt", js.attempts, "in", backoff, "error", err)
			}
		}
		var timerC <-chan time.Time
		var timer Timer
		if !next.IsZero() {
			timer = p.Clock.NewTimer(max(next.Sub(p.Clock.Now()), 0))
			timerC = timer.C()
		}
		q.mu.Lock()
		close(q.idleC)
		q.idleC = make(chan struct{})
		q.mu.Unlock()
		select {
		case <-p.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-timerC:
		case <-q.wakeC:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// runJob does one attempt of a job; nil when it is done.
func (p *Programme) runJob(js *jobState) error {
	j := js.job
	ctx, cancel := opContext(p.ctx)
	defer cancel()
	if js.adopted {
		// This node's copy may miss what the dead node wrote last.
		if err := p.Talks.Reload(ctx, j.Talk); err != nil {
			return fmt.Errorf("read the talk again: %w", err)
		}
	}
	t, err := p.Talks.Get(j.Talk)
	if errors.Is(err, archive.ErrNotFound) {
		p.Log.Info("end-of-talk job dropped: the talk was deleted", "talk", j.Talk)
		return nil
	}
	if err != nil {
		return err
	}
	if js.recovered && t.Live() && t.Recording.Start.Equal(j.Start) {
		// Salon died between spooling the job and saving the stop. (A job of
		// this run saw its stop saved: a talk live again was made so since.)
		p.opMu.Lock()
		_, err := p.Talks.Stop(ctx, j.Talk, j.End)
		p.opMu.Unlock()
		if err != nil {
			return fmt.Errorf("finish the stop: %w", err)
		}
		p.releaseStage(ctx, t.Stage, j.Talk)
		p.Log.Info("talk stopped after a restart, as asked before it", "talk", j.Talk, "at", j.End)
		p.tell(t.Stage)
		if t, err = p.Talks.Get(j.Talk); err != nil {
			return err
		}
	}
	if !t.HasEnded() {
		p.Log.Info("end-of-talk job dropped: the talk is not ended (its recording window was changed)", "talk", j.Talk)
		return nil
	}
	if t.DoNotRecord {
		p.Log.Info("talk ended; do_not_record: nothing archived", "talk", j.Talk)
		return nil
	}
	if p.Rooms != nil && !(js.chatDone && js.slides) {
		msgs, slides, err := p.Rooms.ArchiveTalkLog(t.Stage, t.ID, t.Recording.Start)
		if err != nil {
			return fmt.Errorf("read the talk's chat: %w", err)
		}
		if !js.chatDone {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			for _, m := range msgs {
				if err := enc.Encode(m); err != nil {
					return fmt.Errorf("encode chat message: %w", err)
				}
			}
			if err := p.Talks.SaveChat(ctx, t.ID, buf.Bytes()); err != nil {
				return fmt.Errorf("save the talk's chat: %w", err)
			}
			js.chatDone = true
			p.Log.Info("talk chat archived", "talk", t.ID, "messages", len(msgs))
		}
		if !js.slides {
			if len(slides) > 0 {
				changes := make([]archive.SlideChange, 0, len(slides))
				for _, sl := range slides {
					changes = append(changes, archive.SlideChange{At: sl.Time, Page: sl.Page})
				}
				if _, err := p.Talks.SaveSlideChanges(ctx, t.ID, changes); err != nil {
					return fmt.Errorf("save the talk's slide changes: %w", err)
				}
				p.Log.Info("talk slide changes saved", "talk", t.ID, "changes", len(changes))
			}
			js.slides = true
		}
	}
	if !js.captions {
		if err := p.archiveCaptions(ctx, t); err != nil {
			return err
		}
		js.captions = true
	}
	final, err := p.Talks.RecutFinal(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("re-cut the replay: %w", err)
	}
	if !final {
		if p.Clock.Now().Sub(j.Created) < p.FinalWait {
			return errNotFinal
		}
		p.Log.Warn("the replay is not final yet: the stage's recording does not reach the talk's end; it is re-cut as more of it is stored",
			"talk", t.ID, "waited", p.FinalWait)
	} else {
		p.Log.Info("talk replay final", "talk", t.ID)
	}
	return nil
}
