package programme

import (
	"context"
	"testing"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/schedule"
	"github.com/salon/salon/schedule/scheduletest"
)

// BenchmarkImport_First1000 is a first import of a generated 1,000-event
// schedule.json: parse, plan against an empty library, apply to a library
// in memory (the bucket's cost is BenchmarkImport_DirStore1000's).
func BenchmarkImport_First1000(b *testing.B) {
	data := scheduletest.JSON(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := schedule.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		lib := &importFakeLibrary{talks: map[string]archive.Talk{}}
		r, err := ImportSchedule(context.Background(), lib, s, nil)
		if err != nil || len(r.Created) != 1000 {
			b.Fatal(err, len(r.Created))
		}
	}
}

// BenchmarkImport_Again1000 re-imports the same file over its 1,000 talks:
// parse and plan, everything unchanged, nothing written.
func BenchmarkImport_Again1000(b *testing.B) {
	data := scheduletest.JSON(1000)
	s, err := schedule.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	lib := &importFakeLibrary{talks: map[string]archive.Talk{}}
	if _, err := ImportSchedule(context.Background(), lib, s, nil); err != nil {
		b.Fatal(err)
	}
	existing := lib.List()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := schedule.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		p := PlanImport(existing, s, nil)
		if len(p.Unchanged) != 1000 || p.Writes() != 0 {
			b.Fatal(len(p.Unchanged), p.Writes())
		}
	}
}

// BenchmarkImport_DirStore1000 is the first import into the real talk
// library on a directory: 1,000 talk.json files written (fsynced).
func BenchmarkImport_DirStore1000(b *testing.B) {
	data := scheduletest.JSON(1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dir := &archive.DirStore{Root: b.TempDir()}
		lib := &archive.Library{Store: dir}
		if err := dir.Initialize(); err != nil {
			b.Fatal(err)
		}
		if err := lib.Initialize(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s, err := schedule.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		r, err := ImportSchedule(ctx, lib, s, nil)
		if err != nil || len(r.Created) != 1000 {
			b.Fatal(err)
		}
	}
}
