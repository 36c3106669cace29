package programme

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/schedule"
)

// The schedule import: PlanImport compares the talks salon has with a
// parsed schedule and says what an import would create, update (and which
// fields), leave unchanged, and what the schedule no longer has; ImportApply
// carries the plan out through the talk library. Talks are matched by the
// schedule's event guid, so a re-import of the same file plans nothing and
// writes nothing.
//
// What an import never does, so that nothing recorded is lost:
//   - delete a talk: an event gone from the schedule is reported as removed;
//     the organiser deletes it by hand if that is what they want,
//   - touch a talk's recording window, slides, slide changes or chat (the
//     patch has no such fields), so a talk live now keeps recording,
//   - move a talk that has a recording to another stage (its replay is cut
//     from the stage it was recorded on), or change its do_not_record
//     (marking a recorded talk so withdraws its replay): both are reported
//     as warnings for the organiser to do by hand if meant.

// ImportReport is what an import did or, in a plan, would do. It is the
// JSON answer of PUT /api/schedule.
type ImportReport struct {
	// Rooms maps each room of the schedule to its stage.
	Rooms     []ImportRoom `json:"rooms"`
	Created   []ImportItem `json:"created"`
	Updated   []ImportItem `json:"updated"`
	Unchanged []ImportItem `json:"unchanged"`
	// Removed are talks with a guid the schedule no longer has: kept, and
	// listed for the organiser.
	Removed  []ImportItem `json:"removed"`
	Warnings []string     `json:"warnings"`
}

// ImportRoom is where a room's talks go.
type ImportRoom struct {
	Room  string `json:"room"`
	Stage string `json:"stage"`
	// Derived: the room had no mapping, so its stage was named from it.
	Derived bool `json:"derived,omitempty"`
}

// ImportItem is one talk of a report.
type ImportItem struct {
	ID    string `json:"id"`
	GUID  string `json:"guid"`
	Title string `json:"title"`
	// Fields are the talk.json fields an update changes.
	Fields []string `json:"fields,omitempty"`
}

// ImportPlan is a computed import: the report it would give, and the talks
// to create and patches to apply, in the report's order.
type ImportPlan struct {
	ImportReport
	creates []archive.Talk
	patches []archive.TalkPatch // one per Updated item
}

// Writes is how many talks applying the plan writes.
func (p *ImportPlan) Writes() int { return len(p.creates) + len(p.patches) }

// ImportCheckRooms checks a room → stage mapping before it is used: every
// stage must be a stage name (1–64 of a-z, 0-9 and -).
func ImportCheckRooms(rooms map[string]string) error {
	for _, room := range slices.Sorted(maps.Keys(rooms)) {
		if st := rooms[room]; !stream.ValidStage(st) {
			return fmt.Errorf("room %q maps to %q, which is not a stage name: use 1–64 of a-z, 0-9 and -: %w", room, st, archive.ErrInvalid)
		}
	}
	return nil
}

// PlanImport plans importing s over the existing talks. rooms maps the
// schedule's room names to stages; a room without a valid mapping gets a
// stage named from it (PlanStageForRooms).
func PlanImport(existing []archive.Talk, s *schedule.Schedule, rooms map[string]string) ImportPlan {
	var p ImportPlan
	p.Rooms = PlanStageForRooms(s.Conference.Rooms, rooms)
	stageOf := make(map[string]string, len(p.Rooms))
	for _, r := range p.Rooms {
		stageOf[r.Room] = r.Stage
	}
	for room, st := range rooms {
		if !stream.ValidStage(st) && slices.Contains(s.Conference.Rooms, room) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("room %q maps to %q, which is not a stage name; its talks go to stage %s", room, st, stageOf[room]))
		}
	}
	zone := s.Conference.TimeZone
	if zone == nil {
		zone = time.UTC
	}

	byGUID := make(map[string]archive.Talk, len(existing))
	taken := make(map[string]bool, len(existing)+len(s.Events))
	for _, t := range existing {
		taken[t.ID] = true
		if t.GUID == "" {
			continue
		}
		if prev, ok := byGUID[t.GUID]; ok {
			p.Warnings = append(p.Warnings, fmt.Sprintf("talks %q and %q both have guid %s; only %q is matched", prev.ID, t.ID, t.GUID, prev.ID))
			continue
		}
		byGUID[t.GUID] = t
	}

	inSchedule := make(map[string]bool, len(s.Events))
	for _, e := range s.Events {
		inSchedule[e.GUID] = true
		want := planTalk(e, stageOf[e.Room], &p.Warnings)
		old, ok := byGUID[e.GUID]
		if !ok {
			want.ID = planFreeID(archive.TalkIDFor(want, zone), taken)
			taken[want.ID] = true
			p.Created = append(p.Created, ImportItem{ID: want.ID, GUID: want.GUID, Title: want.Title})
			p.creates = append(p.creates, want)
			continue
		}
		patch, fields := planPatch(old, want, &p.Warnings)
		item := ImportItem{ID: old.ID, GUID: old.GUID, Title: want.Title, Fields: fields}
		if len(fields) == 0 {
			p.Unchanged = append(p.Unchanged, item)
			continue
		}
		p.Updated = append(p.Updated, item)
		p.patches = append(p.patches, patch)
	}
	for _, t := range existing {
		if t.GUID != "" && !inSchedule[t.GUID] && byGUID[t.GUID].ID == t.ID {
			p.Removed = append(p.Removed, ImportItem{ID: t.ID, GUID: t.GUID, Title: t.Title})
		}
	}
	p.ImportReport = p.ImportReport.normalized()
	return p
}

// planTalk is the talk an event describes, within talk.json's limits: a
// text too long is cut with "…" and a warning, never refused, so that one
// long abstract does not stop the day's import.
func planTalk(e schedule.Event, stage string, warnings *[]string) archive.Talk {
	cut := func(field, s string, n int) string {
		if utf8.RuneCountInString(s) <= n {
			return s
		}
		*warnings = append(*warnings, fmt.Sprintf("event %s: %s cut to %d characters", e.GUID, field, n))
		return string([]rune(s)[:n-1]) + "…"
	}
	t := archive.Talk{
		Title:       cut("title", e.Title, archive.MaxTitleLen),
		Stage:       stage,
		StartsAt:    e.Start.UTC(),
		EndsAt:      e.End().UTC(),
		Abstract:    cut("abstract", cmp.Or(e.Abstract, e.Description), archive.MaxAbstractLen),
		GUID:        e.GUID,
		Slug:        cut("slug", e.Slug, archive.MaxTitleLen),
		Track:       cut("track", e.Track, archive.MaxSpeakerLen),
		Language:    cut("language", e.Language, 35),
		DoNotRecord: e.DoNotRecord,
	}
	persons := e.Persons
	if len(persons) > archive.MaxSpeakers {
		*warnings = append(*warnings, fmt.Sprintf("event %s: %d speakers, only the first %d kept", e.GUID, len(persons), archive.MaxSpeakers))
		persons = persons[:archive.MaxSpeakers]
	}
	for _, name := range persons {
		t.Speakers = append(t.Speakers, archive.Speaker{Name: cut("speaker name", name, archive.MaxSpeakerLen)})
	}
	return t
}

// planPatch is the patch that makes old say what want says, and the names
// of the fields it changes; nothing when they agree.
func planPatch(old, want archive.Talk, warnings *[]string) (archive.TalkPatch, []string) {
	var p archive.TalkPatch
	var fields []string
	set := func(name string, differs bool, apply func()) {
		if differs {
			fields = append(fields, name)
			apply()
		}
	}
	set("title", old.Title != want.Title, func() { p.Title = &want.Title })
	set("speakers", !slices.Equal(old.Speakers, want.Speakers), func() {
		sp := slices.Clone(want.Speakers)
		if sp == nil {
			sp = []archive.Speaker{}
		}
		p.Speakers = &sp
	})
	if old.Stage != want.Stage {
		if old.Recording != nil {
			*warnings = append(*warnings, fmt.Sprintf("talk %q was recorded on stage %s and stays there (the schedule now puts it on %s); move it by hand if that is right", old.ID, old.Stage, want.Stage))
		} else {
			set("stage", true, func() { p.Stage = &want.Stage })
		}
	}
	set("starts_at", !old.StartsAt.Equal(want.StartsAt), func() { p.StartsAt = &want.StartsAt })
	set("ends_at", !old.EndsAt.Equal(want.EndsAt), func() { p.EndsAt = &want.EndsAt })
	set("abstract", old.Abstract != want.Abstract, func() { p.Abstract = &want.Abstract })
	set("slug", old.Slug != want.Slug, func() { p.Slug = &want.Slug })
	set("track", old.Track != want.Track, func() { p.Track = &want.Track })
	set("language", old.Language != want.Language, func() { p.Language = &want.Language })
	if old.DoNotRecord != want.DoNotRecord {
		if old.Recording != nil {
			*warnings = append(*warnings, fmt.Sprintf("talk %q is recorded; the schedule now says do_not_record=%v, which the import does not change on a recorded talk: change it by hand if the speaker asked", old.ID, want.DoNotRecord))
		} else {
			set("do_not_record", true, func() { p.DoNotRecord = &want.DoNotRecord })
		}
	}
	return p, fields
}

// planFreeID returns base, or base-2, base-3… when taken, within the id
// limit (the talk library's rule for ids made from titles).
func planFreeID(base string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for n := 2; ; n++ {
		suffix := "-" + strconv.Itoa(n)
		id := strings.TrimRight(planTruncate(base, archive.MaxTalkIDLen-len(suffix)), "-") + suffix
		if !taken[id] {
			return id
		}
	}
}

func planTruncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// PlanStageForRooms maps each room to a stage: the mapping's stage when it
// is a valid stage name, else one named from the room. A room name that
// says something in ASCII gives its slug ("Hall A" → "hall-a"); one that
// does not, like "主会场", gives "room-N", N its place in the schedule's
// list of rooms (pretalx lists rooms in the organiser's order, so the
// number is stable across re-imports). Salon does not transliterate: a
// pinyin guess of a Chinese name is often wrong, and "room-1" is honest
// and readable. Derived names avoid the mapped stages and each other
// (-2, -3…). The console shows the result, and a mapping saved once pins it.
func PlanStageForRooms(roomNames []string, rooms map[string]string) []ImportRoom {
	out := make([]ImportRoom, 0, len(roomNames))
	used := map[string]bool{}
	for _, r := range roomNames {
		if st, ok := rooms[r]; ok && stream.ValidStage(st) {
			used[st] = true
		}
	}
	for i, r := range roomNames {
		if st, ok := rooms[r]; ok && stream.ValidStage(st) {
			out = append(out, ImportRoom{Room: r, Stage: st})
			continue
		}
		base := archive.SlugID(r)
		if len(base) < 2 || base == "talk" || !strings.ContainsFunc(base, func(c rune) bool { return c >= 'a' && c <= 'z' }) {
			base = "room-" + strconv.Itoa(i+1)
		}
		st := planFreeID(base, used)
		used[st] = true
		out = append(out, ImportRoom{Room: r, Stage: st, Derived: true})
	}
	return out
}
