package programme

import (
	"context"
	"errors"
	"fmt"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/schedule"
)

// ImportLibrary is what an import needs of the talk library;
// *archive.Library satisfies it.
type ImportLibrary interface {
	List() []archive.Talk
	Create(ctx context.Context, t archive.Talk) (archive.Talk, error)
	Update(ctx context.Context, id string, p archive.TalkPatch) (archive.Talk, error)
}

var _ ImportLibrary = (*archive.Library)(nil)

// ImportSchedule plans an import of s over the library's talks and applies
// it (PlanImport, then ImportApply).
func ImportSchedule(ctx context.Context, lib ImportLibrary, s *schedule.Schedule, rooms map[string]string) (ImportReport, error) {
	return ImportApply(ctx, lib, PlanImport(lib.List(), s, rooms))
}

// ImportApply creates and updates the talks of the plan, in its order, and
// returns the report with the ids the created talks got. It stops at the
// first failure: the report then holds what was done, and the error names
// the talk that failed. Running the same import again finishes the job
// (what was done is unchanged the second time).
//
// A created talk whose planned id was taken in the meantime (a talk made
// by hand between plan and apply) gets the library's next free id.
func ImportApply(ctx context.Context, lib ImportLibrary, plan ImportPlan) (ImportReport, error) {
	done := ImportReport{
		Rooms:     plan.Rooms,
		Unchanged: plan.Unchanged,
		Removed:   plan.Removed,
		Warnings:  plan.Warnings,
	}
	for i, t := range plan.creates {
		got, err := lib.Create(ctx, t)
		if errors.Is(err, archive.ErrConflict) {
			t.ID = ""
			got, err = lib.Create(ctx, t)
		}
		if err != nil {
			return done.normalized(), fmt.Errorf("import: create the talk for event %s %q: %w", t.GUID, t.Title, err)
		}
		item := plan.Created[i]
		item.ID = got.ID
		done.Created = append(done.Created, item)
	}
	for i, patch := range plan.patches {
		item := plan.Updated[i]
		if _, err := lib.Update(ctx, item.ID, patch); err != nil {
			return done.normalized(), fmt.Errorf("import: update talk %q (event %s): %w", item.ID, item.GUID, err)
		}
		done.Updated = append(done.Updated, item)
	}
	return done.normalized(), nil
}

// normalized has empty lists rather than nil, so that the JSON says [].
func (r ImportReport) normalized() ImportReport {
	for _, l := range []*[]ImportItem{&r.Created, &r.Updated, &r.Unchanged, &r.Removed} {
		if *l == nil {
			*l = []ImportItem{}
		}
	}
	if r.Rooms == nil {
		r.Rooms = []ImportRoom{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	return r
}
