package programme

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salon/salon/archive"
)

// The mapping an import used is kept across a restart, and a later import
// overrides it room by room.
func TestImportService_KeepsRooms(t *testing.T) {
	dir := t.TempDir()
	lib := &importFakeLibrary{talks: map[string]archive.Talk{}}
	ctx := context.Background()
	s := importParse(t, importReadPretalx(t))

	svc := &ImportService{Library: lib, Dir: dir}
	if err := svc.Initialize(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Import(ctx, s, map[string]string{"Workshop Room": "workshop"}, false); err != nil {
		t.Fatal(err)
	}
	if got := svc.Rooms(); got["Workshop Room"] != "workshop" || got["主会场"] != "room-1" {
		t.Errorf("rooms kept %v (the derived stage is pinned too)", got)
	}

	again := &ImportService{Library: lib, Dir: dir}
	if err := again.Initialize(); err != nil {
		t.Fatal(err)
	}
	r, err := again.Import(ctx, s, map[string]string{"主会场": "main"}, true)
	if err != nil {
		t.Fatal(err)
	}
	// After the restart, only 主会场's talks move; Workshop Room keeps its stage.
	if len(r.Updated) != 2 || len(r.Unchanged) != 1 || r.Unchanged[0].ID != "salon-2026-103" {
		t.Errorf("dry run after restart: %+v", r)
	}
	if len(lib.talks) != 3 || lib.talks["salon-2026-101"].Stage != "room-1" {
		t.Errorf("a dry run changed talks: %+v", lib.talks["salon-2026-101"])
	}
	exp := again.Export(nil)
	if exp.Conference.Title != "开源社区沙龙 2026" || exp.Conference.TimeZone.String() != "Asia/Shanghai" || len(exp.Events) != 3 || exp.Events[0].Room != "Workshop Room" {
		t.Errorf("export conference %+v, first event %+v", exp.Conference, exp.Events[0])
	}

	if err := os.WriteFile(filepath.Join(dir, "schedule-rooms.json"), []byte(`{"rooms":{"x":"Not A Stage"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := &ImportService{Library: lib, Dir: dir}
	if err := broken.Initialize(); err != nil || len(broken.Rooms()) != 0 {
		t.Errorf("a bad saved mapping: err %v, rooms %v", err, broken.Rooms())
	}
	if _, err := broken.Import(ctx, s, map[string]string{"x": "Bad"}, false); err == nil || !strings.Contains(err.Error(), "not a stage name") {
		t.Errorf("bad mapping: %v", err)
	}
}
