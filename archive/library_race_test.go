package archive_test

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
)

// TestLibrary_TwoNodesOneTalk: two libraries over one bucket (two nodes of
// a cluster) change different fields of one talk at the same moment, each
// from its own copy in memory; every change of both is in talk.json after,
// and a node whose copy is stale never re-cuts over the other's stop.
func TestLibrary_TwoNodesOneTalk(t *testing.T) {
	t.Parallel()
	onDirAndMinIO(t, "race", testTwoNodesOneTalk)
}

func testTwoNodesOneTalk(t *testing.T, s archive.Store) {
	ctx := t.Context()
	start := time.Date(2019, 4, 21, 1, 30, 0, 0, time.UTC)
	putStageRun(t, s, start)
	a := openLibrary(t, s, start.Add(time.Hour))
	if _, err := a.Create(ctx, archive.Talk{ID: "shared", Title: "T0", Stage: "main"}); err != nil {
		t.Fatal(err)
	}
	b := openLibrary(t, s, start.Add(time.Hour))

	// A edits the title, B the abstract, then B starts the talk: 8 rounds
	// at once. Neither learns of the other but through the bucket.
	const rounds = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds+1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range rounds {
			title := fmt.Sprintf("T%d", i+1)
			if _, err := a.Update(ctx, "shared", archive.TalkPatch{Title: &title}); err != nil {
				errs <- fmt.Errorf("A: %w", err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range rounds {
			abs := fmt.Sprintf("A%d", i+1)
			if _, err := b.Update(ctx, "shared", archive.TalkPatch{Abstract: &abs}); err != nil {
				errs <- fmt.Errorf("B: %w", err)
			}
		}
		if _, err := b.Start(ctx, "shared", start.Add(5*time.Second)); err != nil {
			errs <- fmt.Errorf("B start: %w", err)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := openLibrary(t, s, start.Add(time.Hour)).Get("shared")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != fmt.Sprintf("T%d", rounds) || got.Abstract != fmt.Sprintf("A%d", rounds) || !got.Live() {
		t.Fatalf("after concurrent edits: title %q, abstract %q, live %v; want T%d, A%d, live (an update was lost)",
			got.Title, got.Abstract, got.Live(), rounds, rounds)
	}

	// A reads the talk again (as on another node's notice): live. B stops
	// it; A, whose copy still says live, re-cuts: it must read the talk
	// again and write the stopped talk's VOD, not an EVENT.
	if err := a.Reload(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	if at, _ := a.Get("shared"); !at.Live() || at.Abstract != got.Abstract {
		t.Fatalf("A after Reload: live %v, abstract %q", at.Live(), at.Abstract)
	}
	if _, err := b.Stop(ctx, "shared", start.Add(25*time.Second)); err != nil {
		t.Fatal(err)
	}
	if at, _ := a.Get("shared"); at.Recording == nil || at.Recording.End != nil {
		t.Fatalf("A's copy should be stale (live) here: %+v", at.Recording)
	}
	if err := a.Recut(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, archive.TalkPlaylistKey("shared"), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(body), "#EXT-X-ENDLIST") || strings.Count(string(body), ".m4s") != 11 {
		t.Fatalf("replay after A's re-cut with a stale copy is not the stopped talk's (11 segments, ENDLIST):\n%s", body)
	}
	if at, _ := a.Get("shared"); at.Recording == nil || at.Recording.End == nil {
		t.Errorf("A's copy after its re-cut: %+v, want the stop read back", at.Recording)
	}
}
