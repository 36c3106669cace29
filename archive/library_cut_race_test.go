package archive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
)

// TestLibrary_TwoNodesCutOneTalk: two libraries over one bucket (two
// nodes) cut one talk with renditions and a slide track. A node whose copy
// of the talk is stale, and that dies after its first write, leaves no
// stale object behind; two nodes re-cutting while one trims leave the cut a
// fresh node makes of the talk as stored, not a mix; two nodes saving
// different chat logs of one talk at once lose no message.
func TestLibrary_TwoNodesCutOneTalk(t *testing.T) {
	t.Parallel()
	onDirAndMinIO(t, "cutrace", testTwoNodesCut)
}

// cutKeys are the objects of the raced talk's cut.
var cutKeys = []string{"index.m3u8", "index-source.m3u8", "index-360p.m3u8", "slides.vtt"}

// readCut reads the objects of talk id's cut.
func readCut(t *testing.T, s archive.Store, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range cutKeys {
		rc, _, err := s.Get(t.Context(), "talks/"+id+"/"+k, 0, -1)
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(b)
	}
	return out
}

// checkCutFresh checks that the stored cut of id is the one a node that
// just started makes of the talk as stored.
func checkCutFresh(t *testing.T, s archive.Store, id string, now time.Time, when string) {
	t.Helper()
	stored := readCut(t, s, id)
	if _, err := openLibrary(t, s, now).RecutFinal(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	fresh := readCut(t, s, id)
	for _, k := range cutKeys {
		if stored[k] != fresh[k] {
			t.Errorf("%s: %s is not the talk's cut (torn or stale):\n%s\nwant\n%s", when, k, stored[k], fresh[k])
		}
	}
}

func testTwoNodesCut(t *testing.T, s archive.Store) {
	ctx := t.Context()
	t0 := archive.RecordedPair(t, s)
	now := t0.Add(time.Hour)
	a := openLibrary(t, s, now)
	const id = "raced"
	if _, err := a.Create(ctx, archive.Talk{ID: id, Title: "Raced", Stage: "main"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Start(ctx, id, t0.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Stop(ctx, id, t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SaveSlideChanges(ctx, id, []archive.SlideChange{{At: t0.Add(time.Second), Page: 1}, {At: t0.Add(3 * time.Second), Page: 2}}); err != nil {
		t.Fatal(err)
	}

	// B cuts (it notes the objects), A trims the talk and cuts, then B —
	// its copy stale, no notice between the nodes — cuts again and dies
	// right after its first write.
	dying := &dyingStore{Store: s, after: "/index-360p.m3u8"}
	b := openLibrary(t, dying, now)
	if _, err := b.RecutFinal(ctx, id); err != nil {
		t.Fatal(err)
	}
	trimmed := archive.Window{Start: t0.Add(2 * time.Second), End: at(t0.Add(5 * time.Second))}
	if _, err := a.Update(ctx, id, archive.TalkPatch{Recording: &trimmed}); err != nil {
		t.Fatal(err)
	}
	dying.arm()
	if _, err := b.RecutFinal(ctx, id); !errors.Is(err, errDied) {
		t.Fatalf("B's cut: %v, want it to die after its first write", err)
	}
	checkCutFresh(t, s, id, now, "after a node with a stale copy died cutting")

	// Both re-cut while A moves the window back and forth.
	b = openLibrary(t, s, now)
	windows := []archive.Window{{Start: t0.Add(time.Second), End: at(t0.Add(5 * time.Second))}, trimmed}
	const rounds = 5
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range rounds {
			if _, err := a.Update(ctx, id, archive.TalkPatch{Recording: &windows[i%2]}); err != nil {
				errs <- fmt.Errorf("A: %w", err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range rounds {
			if _, err := b.RecutFinal(ctx, id); err != nil {
				errs <- fmt.Errorf("B: %w", err)
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkCutFresh(t, s, id, now, "after two nodes cut at once")

	// Two nodes save the talk's chat at once, each with messages the other
	// has not: every message of both is stored, in time order.
	msg := func(i int) string {
		return fmt.Sprintf(`{"id":"m%02d","name":"n","text":"t","ts":"%s"}`+"\n", i, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
	}
	var all []string
	wg.Add(2)
	for node, l := range []*archive.Library{a, b} {
		go func() {
			defer wg.Done()
			var log strings.Builder
			for i := range 8 {
				log.WriteString(msg(2*i + node)) // A the even ones, B the odd ones
				if err := l.SaveChat(ctx, id, []byte(log.String())); err != nil {
					t.Errorf("node %d: %v", node, err)
				}
			}
		}()
	}
	wg.Wait()
	for i := range 16 {
		all = append(all, msg(i))
	}
	rc, _, err := s.Get(ctx, archive.ChatKey(id), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if want := strings.Join(all, ""); !bytes.Equal(got, []byte(want)) {
		t.Errorf("chat.jsonl after two nodes saved it at once:\n%s\nwant\n%s", got, want)
	}
}

var errDied = errors.New("the node died")

// dyingStore is a node's view of the bucket that dies (every write fails)
// once armed and a write of a key ending in after succeeded.
type dyingStore struct {
	archive.Store
	after string
	mu    sync.Mutex
	armed bool
	dead  bool
}

func (d *dyingStore) arm() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = true
}

func (d *dyingStore) isDead() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

func (d *dyingStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if d.isDead() {
		return errDied
	}
	err := d.Store.Put(ctx, key, r, size, contentType)
	d.wrote(key, err)
	return err
}

// wrote notes a write; the node dies after the key of after, once armed.
func (d *dyingStore) wrote(key string, err error) {
	if err == nil && strings.HasSuffix(key, d.after) {
		d.mu.Lock()
		d.dead = d.armed
		d.mu.Unlock()
	}
}

func (d *dyingStore) Delete(ctx context.Context, key string) error {
	if d.isDead() {
		return errDied
	}
	return d.Store.Delete(ctx, key)
}

func (d *dyingStore) PutIf(ctx context.Context, key string, data []byte, contentType string, cond archive.Condition) (string, error) {
	if d.isDead() {
		return "", errDied
	}
	tag, err := d.Store.PutIf(ctx, key, data, contentType, cond)
	d.wrote(key, err)
	return tag, err
}

func at(t time.Time) *time.Time { return &t }
