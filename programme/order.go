package programme

import (
	"cmp"
	"slices"
	"strings"

	"github.com/salon/salon/archive"
)

// order sorts a stage's talks in programme order: scheduled talks by start
// time (then id), then talks without a time by id.
func order(ts []archive.Talk) []archive.Talk {
	ts = slices.Clone(ts)
	slices.SortStableFunc(ts, func(a, b archive.Talk) int {
		if az, bz := a.StartsAt.IsZero(), b.StartsAt.IsZero(); az != bz {
			if az {
				return 1
			}
			return -1
		}
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), strings.Compare(a.ID, b.ID))
	})
	return ts
}

// nextTalk is the talk Next starts: the first not-started talk after the
// live one in programme order — or, with none live, after the last one that
// was recorded; with none recorded, the first. Talks left behind (skipped)
// are not gone back to.
func nextTalk(ordered []archive.Talk) (archive.Talk, bool) {
	anchor := -1
	for i, t := range ordered {
		if t.Live() {
			anchor = i
		}
	}
	if anchor < 0 {
		for i, t := range ordered {
			if t.Recording != nil {
				anchor = i
			}
		}
	}
	for _, t := range ordered[anchor+1:] {
		if t.Recording == nil {
			return t, true
		}
	}
	return archive.Talk{}, false
}

func sortDays(days []StageDay) {
	slices.SortFunc(days, func(a, b StageDay) int { return strings.Compare(a.Stage, b.Stage) })
}
