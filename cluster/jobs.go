package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// JobBucket is the key-value bucket of the end-of-talk jobs not done yet:
// key = the talk, value = a JobValue (the job as the programme spooled it,
// and the node that owns it). The bucket keeps no TTL: a job stays until
// it is done; what lapses is its owner's claim.
const JobBucket = "SALON_JOBS"

// JobValue is a job's value in JobBucket.
type JobValue struct {
	Owner string          `json:"owner"` // the node that runs it
	Job   json.RawMessage `json:"job"`   // opaque to cluster: the programme's Job
}

// Jobs is the deployment's end-of-talk jobs. The node that stops a talk
// posts its job (Post) and renews its claim every TTL/3 by rewriting the
// value (a new revision) until it is done (Done deletes it). Every node
// watches the bucket: a job whose revision has not changed for TTL (by
// this node's clock: no skew between nodes matters) has lost its owner —
// the node died, or is cut off — and is taken over by compare-and-set on
// the revision seen, so one node wins; Watch's adopt runs it there, and
// that node renews it from then on. A node that finds its job taken over
// stops renewing it; running a job twice is harmless (every step of it is).
//
// mu guards owned, seen and adopt; one goroutine renews and looks for
// lapsed claims, another watches the bucket.
type Jobs struct {
	// TTL is how long a job's claim lasts without a renewal (JobBoard's
	// ttl, default DefaultLeaseTTL); not changed after.
	TTL time.Duration

	node   *Node
	kv     jetstream.KeyValue
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	owned map[string]ownedJob // talk → this node's claim
	seen  map[string]seenJob  // talk → the job's revision as this node saw it last
	adopt func(talk string, job []byte)
}

type ownedJob struct {
	rev   uint64
	value []byte
}

type seenJob struct {
	rev   uint64
	at    time.Time // when this node first saw rev
	value []byte
}

// JobBoard opens (creating) the job bucket and starts renewing the jobs
// this node posts. It takes over lapsed jobs once Watch is called. Close
// it before the Node.
func (n *Node) JobBoard(ctx context.Context, ttl time.Duration) (*Jobs, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:      JobBucket,
		Description: "salon: end-of-talk jobs not done yet, each with the node that runs it",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    n.replicas(),
	}
	kv, err := n.createOrUpdateKV(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the NATS job bucket %s: %w", JobBucket, err)
	}
	j := &Jobs{TTL: ttl, node: n, kv: kv, owned: map[string]ownedJob{}, seen: map[string]seenJob{}}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	j.wg.Add(1)
	go j.run()
	return j, nil
}

// Watch starts watching the bucket and taking over the jobs whose owner's
// claim lapsed: adopt is called, on the board's goroutine, with each such
// job (the bytes Post was given); it must not block. The node then owns it
// until Done.
func (j *Jobs) Watch(adopt func(talk string, job []byte)) error {
	w, err := j.kv.WatchAll(j.ctx)
	if err != nil {
		return fmt.Errorf("watch the NATS job bucket %s: %w", JobBucket, err)
	}
	j.mu.Lock()
	j.adopt = adopt
	j.mu.Unlock()
	j.wg.Add(1)
	go j.watch(w)
	return nil
}

// Post records talk's job, owned by this node (over any claim before:
// this node stopped the talk, or found the job in its own spool).
func (j *Jobs) Post(ctx context.Context, talk string, job []byte) error {
	value, err := json.Marshal(JobValue{Owner: j.node.Name, Job: job})
	if err != nil {
		return err
	}
	rev, err := j.kv.Put(ctx, talk, value)
	if err != nil {
		return fmt.Errorf("record the end-of-talk job of talk %s in the NATS bucket %s: %w; it runs on this node only", talk, JobBucket, err)
	}
	j.mu.Lock()
	j.owned[talk] = ownedJob{rev: rev, value: value}
	j.mu.Unlock()
	return nil
}

// Done deletes talk's job, if this node still owns it (a job taken over
// is the other node's to delete).
func (j *Jobs) Done(ctx context.Context, talk string) error {
	j.mu.Lock()
	o, ok := j.owned[talk]
	delete(j.owned, talk)
	j.mu.Unlock()
	if !ok {
		return nil
	}
	rev := o.rev
	for {
		err := j.kv.Delete(ctx, talk, jetstream.LastRevision(rev))
		if err == nil {
			return nil
		}
		if !isWrongRevision(err) {
			return fmt.Errorf("delete the end-of-talk job of talk %s from the NATS bucket %s: %w; another node may do it again (harmless)", talk, JobBucket, err)
		}
		// Renewed meanwhile (still ours: delete that), or taken over.
		mine, r, err := j.mine(ctx, talk)
		if err != nil || !mine {
			return err
		}
		rev = r
	}
}

// mine reads whether talk's job is this node's, and its revision.
func (j *Jobs) mine(ctx context.Context, talk string) (bool, uint64, error) {
	e, err := j.kv.Get(ctx, talk)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("read the end-of-talk job of talk %s in the NATS bucket %s: %w", talk, JobBucket, err)
	}
	var v JobValue
	if json.Unmarshal(e.Value(), &v) != nil {
		return false, 0, nil
	}
	return v.Owner == j.node.Name, e.Revision(), nil
}

// Owned reports whether this node owns talk's job now.
func (j *Jobs) Owned(talk string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.owned[talk]
	return ok
}

// Owner is the node that owns talk's job; "" when there is none.
func (j *Jobs) Owner(ctx context.Context, talk string) (string, error) {
	e, err := j.kv.Get(ctx, talk)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var v JobValue
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return "", fmt.Errorf("job of talk %s: %w", talk, err)
	}
	return v.Owner, nil
}

func (j *Jobs) run() {
	defer j.wg.Done()
	t := time.NewTicker(j.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-j.ctx.Done():
			return
		case <-t.C:
		}
		j.renew()
		j.lookForLapsed()
	}
}

// renew rewrites each job this node owns (a new revision is the renewal).
// A job another node took over, or that is gone, is given up.
func (j *Jobs) renew() {
	j.mu.Lock()
	owned := make(map[string]ownedJob, len(j.owned))
	for k, o := range j.owned {
		owned[k] = o
	}
	j.mu.Unlock()
	for talk, o := range owned {
		ctx, cancel := context.WithTimeout(j.ctx, leaseTimeout)
		rev, err := j.kv.Update(ctx, talk, o.value, o.rev)
		if isWrongRevision(err) {
			// Ours still when an earlier renewal's answer was lost.
			if mine, r, merr := j.mine(ctx, talk); merr == nil && mine {
				rev, err = r, nil
			}
		}
		cancel()
		j.mu.Lock()
		cur, still := j.owned[talk]
		switch {
		case !still || cur.rev != o.rev:
			// Done, or posted again meanwhile.
		case err == nil:
			j.owned[talk] = ownedJob{rev: rev, value: o.value}
		case isWrongRevision(err) || errors.Is(err, jetstream.ErrKeyNotFound):
			delete(j.owned, talk)
			j.node.Log.Warn("end-of-talk job taken over by another node (this one did not renew it in time); it is that node's now", "talk", talk)
		default:
			j.node.Log.Warn("end-of-talk job not renewed; trying again", "talk", talk, "err", err)
		}
		j.mu.Unlock()
	}
}

// watch keeps seen up to date with the bucket until Close: each job's
// revision, and when this node first saw it.
func (j *Jobs) watch(w jetstream.KeyWatcher) {
	defer j.wg.Done()
	defer w.Stop()
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-j.ctx.Done():
			return
		case e, ok = <-w.Updates():
		}
		if !ok {
			j.node.Log.Error("the watch of the end-of-talk jobs ended: this node takes no job over until it restarts")
			return
		}
		if e == nil {
			continue // the bucket's jobs as they were: all delivered
		}
		j.mu.Lock()
		if e.Operation() != jetstream.KeyValuePut {
			delete(j.seen, e.Key())
		} else if s, ok := j.seen[e.Key()]; !ok || s.rev != e.Revision() {
			j.seen[e.Key()] = seenJob{rev: e.Revision(), at: time.Now(), value: e.Value()}
		}
		j.mu.Unlock()
	}
}

// lookForLapsed takes over the jobs of other nodes whose revision has not
// changed for TTL.
func (j *Jobs) lookForLapsed() {
	j.mu.Lock()
	adopt := j.adopt
	var lapsed []string
	now := time.Now()
	for talk, s := range j.seen {
		if _, mine := j.owned[talk]; !mine && now.Sub(s.at) >= j.TTL {
			lapsed = append(lapsed, talk)
		}
	}
	slices.Sort(lapsed)
	j.mu.Unlock()
	if adopt == nil {
		return
	}
	for _, talk := range lapsed {
		j.takeOver(talk, adopt)
	}
}

// takeOver claims a lapsed job by compare-and-set on the revision seen,
// and adopts it.
func (j *Jobs) takeOver(talk string, adopt func(string, []byte)) {
	j.mu.Lock()
	s, ok := j.seen[talk]
	j.mu.Unlock()
	if !ok {
		return
	}
	var v JobValue
	if err := json.Unmarshal(s.value, &v); err != nil {
		j.node.Log.Error("an end-of-talk job in NATS does not read; delete it by hand if it stays", "talk", talk, "bucket", JobBucket, "err", err)
		return
	}
	prev := v.Owner
	v.Owner = j.node.Name
	value, err := json.Marshal(v)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(j.ctx, leaseTimeout)
	defer cancel()
	rev, err := j.kv.Update(ctx, talk, value, s.rev)
	if err != nil {
		if !isWrongRevision(err) {
			j.node.Log.Warn("end-of-talk job not taken over; trying again", "talk", talk, "err", err)
		}
		return // another node took it first, or its owner renewed it
	}
	j.mu.Lock()
	j.owned[talk] = ownedJob{rev: rev, value: value}
	j.mu.Unlock()
	j.node.Log.Info("end-of-talk job taken over: its node stopped renewing it", "talk", talk, "from", prev, "unchanged_for", time.Since(s.at).Round(time.Millisecond))
	adopt(talk, v.Job)
}

// Close stops renewing and watching. The jobs this node owns stay in the
// bucket: their claims lapse after TTL and another node takes them over
// (or this one, started again, posts them from its spool).
func (j *Jobs) Close() {
	j.cancel()
	j.wg.Wait()
}
