package programme

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/salon/salon/internal/durable"
	"github.com/salon/salon/schedule"
)

// ImportService is the schedule's side of the programme for the HTTP
// routes: imports (one at a time), the room → stage mapping they use, and
// the day written back as a schedule.
//
// The mapping given with an import is kept (in memory, and in
// Dir/schedule-rooms.json when Dir is set) and used by the next import that
// gives none, so that an organiser maps the rooms once. The conference's
// title, acronym and time zone are kept the same way for the export.
//
// Concurrency: importMu serialises imports (held through the writes); mu
// guards the kept state and is held only to read or replace it, so the
// export never waits for an import.
type ImportService struct {
	// Library holds the talks (required).
	Library ImportLibrary
	// Dir keeps the mapping across restarts (optional).
	Dir string
	// TimeZone is the event's zone (-timezone); default the last imported
	// schedule's, else UTC.
	TimeZone *time.Location
	Log      *slog.Logger

	importMu sync.Mutex
	mu       sync.Mutex
	kept     importKept
}

// importKept is what an import leaves for the next one and for the export.
type importKept struct {
	Rooms    map[string]string `json:"rooms"`
	Title    string            `json:"title,omitempty"`
	Acronym  string            `json:"acronym,omitempty"`
	TimeZone string            `json:"time_zone_name,omitempty"`
}

func (s *ImportService) keptPath() string { return filepath.Join(s.Dir, "schedule-rooms.json") }

// Initialize loads the kept mapping. A file that does not parse is logged
// and ignored: the next import with a mapping writes it again.
func (s *ImportService) Initialize() error {
	if s.Library == nil {
		return errors.New("schedule import: no talk library configured")
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.kept = importKept{Rooms: map[string]string{}}
	if s.Dir == "" {
		return nil
	}
	data, err := os.ReadFile(s.keptPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("schedule import: read %s: %w", s.keptPath(), err)
	}
	var k importKept
	if err := json.Unmarshal(data, &k); err != nil || ImportCheckRooms(k.Rooms) != nil {
		s.Log.Error("the saved room mapping does not load; import the schedule with the mapping again", "file", s.keptPath(), "error", err)
		return nil
	}
	if k.Rooms == nil {
		k.Rooms = map[string]string{}
	}
	s.kept = k
	return nil
}

// Rooms is the room → stage mapping imports use when they are given none.
func (s *ImportService) Rooms() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.kept.Rooms)
}

// ScheduleZone is the IANA time zone the last imported schedule named
// (time_zone_name), "" when none did.
func (s *ImportService) ScheduleZone() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kept.TimeZone
}

// Import plans the import of sch with the kept mapping overridden by rooms
// and, unless dryRun, applies it and keeps the mapping and
// the conference's names. The error of a bad mapping wraps
// archive.ErrInvalid.
func (s *ImportService) Import(ctx context.Context, sch *schedule.Schedule, rooms map[string]string, dryRun bool) (ImportReport, error) {
	if err := ImportCheckRooms(rooms); err != nil {
		return ImportReport{}, err
	}
	s.importMu.Lock()
	defer s.importMu.Unlock()
	merged := s.Rooms()
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, rooms)
	rooms = merged
	plan := PlanImport(s.Library.List(), sch, rooms)
	if dryRun {
		return plan.ImportReport, nil
	}
	r, err := ImportApply(ctx, s.Library, plan)
	s.Log.Info("schedule imported", "created", len(r.Created), "updated", len(r.Updated), "unchanged", len(r.Unchanged),
		"removed", len(r.Removed), "warnings", len(r.Warnings), "error", err)
	if err != nil {
		return r, err
	}
	k := importKept{Rooms: map[string]string{}, Title: sch.Conference.Title, Acronym: sch.Conference.Acronym, TimeZone: sch.Conference.TimeZoneName}
	for _, room := range r.Rooms {
		k.Rooms[room.Room] = room.Stage // derived stages are pinned too
	}
	maps.Copy(k.Rooms, rooms) // and mappings of rooms this file does not have
	s.mu.Lock()
	s.kept = k
	s.mu.Unlock()
	if err := s.save(k); err != nil {
		s.Log.Error("the room mapping is not saved; it holds until a restart", "error", err)
	}
	return r, nil
}

func (s *ImportService) save(k importKept) error {
	if s.Dir == "" {
		return nil
	}
	data, _ := json.MarshalIndent(k, "", "  ")
	return durable.WriteFile(s.keptPath(), append(data, '\n'), 0o644)
}

// Export is the programme as a schedule, links made with url (see
// ImportedSchedule).
func (s *ImportService) Export(url func(path string) string) *schedule.Schedule {
	s.mu.Lock()
	k := s.kept
	s.mu.Unlock()
	zone := s.TimeZone
	if zone == nil && k.TimeZone != "" {
		zone, _ = time.LoadLocation(k.TimeZone) // it loaded when imported
	}
	return ImportedSchedule(s.Library.List(), ImportExportOptions{
		Title:    cmp.Or(k.Title, "salon"),
		Acronym:  k.Acronym,
		TimeZone: zone,
		Rooms:    k.Rooms,
		URL:      url,
	})
}
