package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SettingsBucket holds the programme's flags that every node must share
// (which stages are in auto mode, which live talks the schedule started):
// one key per flag, present when on. Nodes set flags concurrently without
// losing each other's, and watch the bucket to apply the others'.
const SettingsBucket = "SALON_PROGRAMME"

// settingsTimeout bounds one write or the initial read.
const settingsTimeout = 5 * time.Second

// Settings is the programme's shared flags. Set writes one; the callbacks
// given to ProgrammeSettings receive the bucket's state, then each change
// (this node's own included), on one goroutine.
type Settings struct {
	node    *Node
	kv      jetstream.KeyValue
	watcher jetstream.KeyWatcher
	wg      sync.WaitGroup
}

// ProgrammeSettings opens (creating) the settings bucket and returns it
// with every flag that is on; Watch then delivers each later change, in
// order. Close it before the Node.
func (n *Node) ProgrammeSettings(ctx context.Context) (*Settings, map[string]bool, error) {
	kv, err := n.createOrUpdateKV(ctx, jetstream.KeyValueConfig{
		Bucket:      SettingsBucket,
		Description: "salon: the programme's shared flags (auto mode per stage, talks the schedule started)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    n.replicas(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open the NATS settings bucket %s: %w", SettingsBucket, err)
	}
	// The watcher outlives ctx (a start-up deadline): it runs until Close.
	w, err := kv.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("watch the NATS settings bucket %s: %w", SettingsBucket, err)
	}
	s := &Settings{node: n, kv: kv, watcher: w}
	on := map[string]bool{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, nil, errors.New("the NATS settings watcher stopped at start")
			}
			if e != nil {
				on[e.Key()] = e.Operation() == jetstream.KeyValuePut
				continue
			}
			// nil: the initial values are all delivered.
			for k, v := range on {
				if !v {
					delete(on, k)
				}
			}
			return s, on, nil
		case <-ctx.Done():
			_ = w.Stop()
			return nil, nil, fmt.Errorf("read the NATS settings bucket %s: %w", SettingsBucket, ctx.Err())
		}
	}
}

// Watch calls changed with each change after the state ProgrammeSettings
// returned (this node's own included), on one goroutine, until Close.
func (s *Settings) Watch(changed func(key string, on bool)) {
	s.wg.Add(1)
	go s.run(changed)
}

func (s *Settings) run(changed func(string, bool)) {
	defer s.wg.Done()
	for e := range s.watcher.Updates() {
		if e != nil {
			changed(e.Key(), e.Operation() == jetstream.KeyValuePut)
		}
	}
}

// Set turns flag key on (stored) or off (deleted).
func (s *Settings) Set(key string, on bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), settingsTimeout)
	defer cancel()
	var err error
	if on {
		_, err = s.kv.Put(ctx, key, []byte("on"))
	} else {
		err = s.kv.Delete(ctx, key)
	}
	if err != nil {
		return fmt.Errorf("set %s in the NATS settings bucket %s: %w; check the NATS servers", key, SettingsBucket, err)
	}
	return nil
}

// Close stops watching.
func (s *Settings) Close() {
	_ = s.watcher.Stop()
	s.wg.Wait()
}
