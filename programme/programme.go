package programme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/chat"
)

// talkStore is the store of talks (talk.json, cuts) as the programme needs
// it; *archive.Library satisfies it. Errors wrap archive.ErrNotFound,
// ErrInvalid or ErrConflict.
type talkStore interface {
	List() []archive.Talk
	Get(id string) (archive.Talk, error)
	LiveOn(stage string) (archive.Talk, bool)
	Start(ctx context.Context, id string, at time.Time) (archive.Talk, error)
	Stop(ctx context.Context, id string, at time.Time) (archive.Talk, error)
	SaveChat(ctx context.Context, id string, jsonl []byte) error
	SaveSlideChanges(ctx context.Context, id string, changes []archive.SlideChange) (archive.Talk, error)
	// RecutFinal re-cuts an ended talk and reports whether its replay is final.
	RecutFinal(ctx context.Context, id string) (bool, error)
	// Changed is closed at the next change of any talk.
	Changed() <-chan struct{}
	// Reload reads talk id again from the store; ReloadAll every talk
	// (a cluster: another node changed them).
	Reload(ctx context.Context, id string) error
	ReloadAll(ctx context.Context) error
}

// chatRooms are the stages' chats; *chat.Rooms satisfies it.
type chatRooms interface {
	// TalkChanged tells the stage's viewers which talk is on now.
	TalkChanged(stage string)
	// ArchiveTalkLog is what the stage's chat holds of a talk (from its
	// journal after a restart; on a cluster, once this node has applied
	// the whole of the stage's replicated log).
	ArchiveTalkLog(stage, talk string, since time.Time) ([]chat.Message, []chat.Slide, error)
}

// publishedStages says which stages a publisher has used since start (live
// now, or reconnecting); *stream.Registry satisfies it. Only publishers with
// the publish key make such stages.
type publishedStages interface {
	Known(stage string) bool
}

const (
	// opTimeout bounds one start or stop in the store.
	opTimeout = 30 * time.Second
	// retryAfter is how soon the scheduler tries again after a failed start
	// or stop.
	retryAfter = 10 * time.Second
)

// Programme runs the day. Create it with its parameters, call Initialize,
// then Close.
//
// Concurrency: opMu serialises every change of a talk's life (Start, Stop,
// Next and the scheduler's actions), so that the checks of a change and its
// writes are one step; it is held during the store's writes, which are
// rare. mu guards the auto flags, the talks the schedule started and what
// each stage's viewers were last told; it is never held during I/O. The job
// queue has its own lock (job.go).
type Programme struct {
	// parameters

	// Talks is the store of talks (required).
	Talks talkStore
	// Rooms are the stages' chats: the talk frame goes there, and a stopped
	// talk's chat and slide changes come from there. Optional.
	Rooms chatRooms
	// Captions are the cues posted live on the stages and CaptionTracks
	// where a talk's are archived when it ends (job_captions.go); optional,
	// both or neither.
	Captions      liveCaptionSource
	CaptionTracks captionArchive
	// Stages tells which stages have been published to since start, for
	// HasStage. Optional.
	Stages publishedStages
	// View is a talk as pages get it in the chat's welcome and talk frames
	// (web's talk JSON). Default: the talk.json fields.
	View func(archive.Talk) any
	// Dir holds the job spool (Dir/jobs) and the settings (Dir/settings.json),
	// e.g. DATA/programme (required).
	Dir string
	// Clock defaults to the wall clock.
	Clock Clock
	// Overrun is how long after its scheduled end a talk the schedule
	// started is stopped when no later talk starts first; default 30 min.
	Overrun time.Duration
	// FinalWait is how long a stopped talk's job re-cuts its replay waiting
	// for the recording to cover its end (the segments still uploading);
	// after that the library's own re-cuts finish it. Default 10 min.
	FinalWait time.Duration
	// Leader, on a cluster, says whether this node runs the schedule
	// (cluster.go); nil: it does. Shared, on a cluster, keeps the auto
	// flags and the talks the schedule started where every node reads
	// them; nil: Dir/settings.json only.
	Leader leadership
	Shared sharedFlags
	// StageClaims, on a cluster, is each stage's live talk where every
	// node sees it (stage_claim.go); nil: the library's rule, one node.
	StageClaims stageClaims
	// Board, on a cluster, holds the end-of-talk jobs not done yet where
	// every node sees them, so that another node takes over those of a
	// node that died (job_board.go); nil: the local spool only.
	Board jobBoard
	Log   *slog.Logger

	// private
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wakeC  chan struct{}      // wakes the scheduler
	kick   chan chan struct{} // wakes the scheduler, which closes the channel after its pass (settle)

	opMu sync.Mutex

	mu          sync.Mutex
	auto        map[string]bool
	autoStarted map[string]bool   // live talks the schedule started
	told        map[string]string // stage → fingerprint of the live talk its viewers were told ("" none)

	jobs jobQueue
}

// Initialize checks the parameters, loads the settings and the jobs a
// previous run left, and starts the scheduler and the job worker.
func (p *Programme) Initialize() error {
	if p.Talks == nil {
		return errors.New("programme: Talks is required (wire the archive's talk library)")
	}
	if p.Dir == "" {
		return errors.New("programme: Dir is required (the job spool and settings, e.g. DATA/programme)")
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Clock == nil {
		p.Clock = realClock{}
	}
	if p.Overrun <= 0 {
		p.Overrun = 30 * time.Minute
	}
	if p.FinalWait <= 0 {
		p.FinalWait = 10 * time.Minute
	}
	if p.View == nil {
		p.View = func(t archive.Talk) any { return t }
	}
	if err := os.MkdirAll(p.jobDir(), 0o755); err != nil {
		return fmt.Errorf("programme: create %s: %w (check -data)", p.jobDir(), err)
	}
	p.auto, p.autoStarted, p.told = map[string]bool{}, map[string]bool{}, map[string]string{}
	if err := p.loadSettings(); err != nil {
		return err
	}
	for _, t := range p.Talks.List() {
		if t.Live() {
			p.told[t.Stage] = fingerprint(t)
		}
	}
	if err := p.jobs.load(p); err != nil {
		return err
	}
	for _, js := range p.jobs.jobs {
		p.post(js.job) // this node's again, whoever took it over meanwhile
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.kick = make(chan chan struct{})
	p.wakeC = make(chan struct{}, 1)
	p.wg.Add(2)
	go p.runScheduler()
	go p.runJobs()
	return nil
}

// Close stops the scheduler and the job worker. Jobs not done stay in the
// spool and are done after the next Initialize.
func (p *Programme) Close() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.wg.Wait()
}

// opContext is the context of one change: never the caller's cancellation
// (a request that goes away must not cut a stop in half), bounded in time.
func opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
}

// Start starts the talk by hand: it goes live on its stage and its replay
// grows with the recording. ErrConflict when it is live or ended, or another
// talk is live on its stage. ctx is not used for cancellation: the start
// completes even if the caller goes away.
func (p *Programme) Start(ctx context.Context, id string) (archive.Talk, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	t, err := p.start(ctx, id, false)
	if err == nil {
		p.tell(t.Stage)
	}
	return t, err
}

// Stop stops the talk by hand. The end-of-talk work (chat log, slide
// changes, final cut) is spooled before Stop returns and done by the worker.
// ErrConflict when the talk is not live.
func (p *Programme) Stop(ctx context.Context, id string) (archive.Talk, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	t, err := p.stop(ctx, id, "hand")
	if err == nil {
		p.tell(t.Stage)
	}
	return t, err
}

// Change is what Next did.
type Change struct {
	Stopped *archive.Talk // the talk that was live, if any
	Started archive.Talk
}

// Next stops the talk live on stage, if any, and starts the stage's next
// talk in one step: the first not-started talk after the live one in
// programme order (after the last recorded one when none is live). ErrConflict, with nothing changed, when the
// stage has no next talk; ErrNotFound for a stage with no talks.
func (p *Programme) Next(ctx context.Context, stage string) (Change, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	talks := p.stageTalks(stage)
	if len(talks) == 0 {
		return Change{}, fmt.Errorf("stage %q has no talks: %w", stage, archive.ErrNotFound)
	}
	next, ok := nextTalk(talks)
	if !ok {
		return Change{}, fmt.Errorf("stage %s has no next talk: every talk of it has started; add a talk, or press Stop: %w", stage, archive.ErrConflict)
	}
	var ch Change
	defer p.tell(stage) // once: viewers go from one talk to the next
	if live, ok := p.Talks.LiveOn(stage); ok {
		stopped, err := p.stop(ctx, live.ID, "next")
		if err != nil {
			return Change{}, err
		}
		ch.Stopped = &stopped
	}
	started, err := p.start(ctx, next.ID, false)
	if err != nil && ch.Stopped != nil {
		return ch, fmt.Errorf("talk %s was stopped, but %s did not start: %w; press Start on it", ch.Stopped.ID, next.ID, err)
	}
	if err != nil {
		return ch, err
	}
	ch.Started = started
	return ch, nil
}

// start starts id; opMu held. The caller tells the stage's viewers.
func (p *Programme) start(ctx context.Context, id string, bySchedule bool) (archive.Talk, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	before, err := p.Talks.Get(id)
	if err != nil {
		return archive.Talk{}, err
	}
	claimed, err := p.claimStage(ctx, before)
	if err != nil {
		return archive.Talk{}, err
	}
	t, err := p.Talks.Start(ctx, id, p.Clock.Now())
	if err != nil {
		if cur, gerr := p.Talks.Get(id); claimed && (gerr != nil || !cur.Live()) {
			p.releaseStage(ctx, before.Stage, id) // not when another node started it meanwhile
		}
		return archive.Talk{}, err
	}
	by := "hand"
	p.mu.Lock()
	wasAuto := p.autoStarted[id]
	if bySchedule {
		p.autoStarted[id] = true
		by = "schedule"
	} else {
		delete(p.autoStarted, id)
	}
	p.mu.Unlock()
	if bySchedule || wasAuto {
		p.saveSettings()
		p.share(startedFlag+id, bySchedule)
	}
	p.Log.Info("talk started", "talk", id, "stage", t.Stage, "by", by, "do_not_record", t.DoNotRecord)
	return t, nil
}

// stop stops id, spooling its end-of-talk job first; opMu held. The caller
// tells the stage's viewers.
func (p *Programme) stop(ctx context.Context, id, by string) (archive.Talk, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	t, err := p.Talks.Get(id)
	if err != nil {
		return archive.Talk{}, err
	}
	now := p.Clock.Now().UTC()
	if !t.Live() {
		return p.Talks.Stop(ctx, id, now) // refuses with the library's reason, writing nothing
	}
	job := Job{Talk: id, Stage: t.Stage, Start: t.Recording.Start, End: now, Created: now}
	if err := p.jobs.spool(p, job); err != nil {
		return archive.Talk{}, err
	}
	p.post(job) // before the stop is saved: a node that dies in between leaves it to another
	stopped, err := p.Talks.Stop(ctx, id, now)
	if err != nil {
		p.jobs.drop(p, id)
		return archive.Talk{}, err
	}
	p.releaseStage(ctx, t.Stage, id)
	p.mu.Lock()
	wasAuto := p.autoStarted[id]
	delete(p.autoStarted, id)
	p.mu.Unlock()
	if wasAuto {
		p.saveSettings()
		p.share(startedFlag+id, false)
	}
	p.Log.Info("talk stopped", "talk", id, "stage", t.Stage, "by", by)
	p.jobs.add(job)
	return stopped, nil
}

// tell lets the stage's viewers know which talk is on now, if that changed:
// another talk, none, or the live talk edited (a corrected title).
func (p *Programme) tell(stage string) {
	fp := ""
	if t, ok := p.Talks.LiveOn(stage); ok {
		fp = fingerprint(t)
	}
	p.mu.Lock()
	old := p.told[stage] // "" when none was live
	p.told[stage] = fp
	p.mu.Unlock()
	if old == fp {
		return
	}
	if p.Rooms != nil {
		p.Rooms.TalkChanged(stage)
	}
}

// fingerprint is what viewers were told of a live talk: its talk.json.
func fingerprint(t archive.Talk) string {
	b, err := json.Marshal(t)
	if err != nil {
		return t.ID
	}
	return string(b)
}

// SetAuto switches the stage's auto mode: the schedule starts and stops its
// talks (the scheduler acts at once). The flag is kept in Dir/settings.json
// across restarts. ErrNotFound for a stage that has no talks, is not live
// and is not in auto mode.
func (p *Programme) SetAuto(stage string, on bool) error {
	if !stream.ValidStage(stage) {
		return fmt.Errorf("stage %q: names are 1-64 of a-z, 0-9 and -: %w", stage, archive.ErrInvalid)
	}
	if !p.HasStage(stage) && !p.Auto(stage) {
		return fmt.Errorf("stage %q has no talks and is not live: %w", stage, archive.ErrNotFound)
	}
	p.mu.Lock()
	if on {
		p.auto[stage] = true
	} else {
		delete(p.auto, stage)
	}
	p.mu.Unlock()
	if err := p.saveSettings(); err != nil {
		return err
	}
	if err := p.share(autoFlag+stage, on); err != nil {
		return fmt.Errorf("auto mode of stage %s is set on this node only: %w", stage, err)
	}
	p.Log.Info("stage auto mode", "stage", stage, "on", on)
	p.wake()
	return nil
}

// Auto reports whether the stage is in auto mode.
func (p *Programme) Auto(stage string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auto[stage]
}

// HasStage reports whether the stage is live (or was since start: a
// publisher reconnecting keeps its chat) or has talks: such a stage has a
// chat room and a place in the day.
func (p *Programme) HasStage(stage string) bool {
	if p.Stages != nil && p.Stages.Known(stage) {
		return true
	}
	for _, t := range p.Talks.List() {
		if t.Stage == stage {
			return true
		}
	}
	return false
}

// OnStage is the talk live on stage: its id and its View.
func (p *Programme) OnStage(stage string) (string, any, bool) {
	t, ok := p.Talks.LiveOn(stage)
	if !ok {
		return "", nil, false
	}
	return t.ID, p.View(t), true
}

// StageDay is one stage's day.
type StageDay struct {
	Stage string
	Auto  bool
	// Talks in programme order: scheduled by start time, then unscheduled by id.
	Talks []archive.Talk
	Live  *archive.Talk
	// Next is the talk Next would start.
	Next *archive.Talk
}

// Day is every stage that has talks or is in auto mode, by name.
func (p *Programme) Day() []StageDay {
	by := map[string][]archive.Talk{}
	for _, t := range p.Talks.List() {
		by[t.Stage] = append(by[t.Stage], t)
	}
	p.mu.Lock()
	for s := range p.auto {
		if _, ok := by[s]; !ok {
			by[s] = nil
		}
	}
	p.mu.Unlock()
	out := make([]StageDay, 0, len(by))
	for stage, ts := range by {
		d := StageDay{Stage: stage, Auto: p.Auto(stage), Talks: order(ts)}
		for i := range d.Talks {
			if d.Talks[i].Live() {
				d.Live = &d.Talks[i]
			}
		}
		if n, ok := nextTalk(d.Talks); ok {
			d.Next = &n
		}
		out = append(out, d)
	}
	sortDays(out)
	return out
}

// stageTalks is the stage's talks in programme order.
func (p *Programme) stageTalks(stage string) []archive.Talk {
	var ts []archive.Talk
	for _, t := range p.Talks.List() {
		if t.Stage == stage {
			ts = append(ts, t)
		}
	}
	return order(ts)
}

func (p *Programme) jobDir() string { return filepath.Join(p.Dir, "jobs") }
