package schedule_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/salon/salon/schedule"
	"github.com/salon/salon/schedule/scheduletest"
)

func BenchmarkParse_JSON1000(b *testing.B) {
	data := scheduletest.JSON(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := schedule.Parse(data)
		if err != nil || len(s.Events) != 1000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse_XML1000(b *testing.B) {
	data := scheduletest.XML(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := schedule.Parse(data)
		if err != nil || len(s.Events) != 1000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteJSON1000(b *testing.B) {
	s := scheduletest.Generate(1000)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := schedule.WriteJSON(&buf, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteICS1000(b *testing.B) {
	s := scheduletest.Generate(1000)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := schedule.WriteICS(&buf, s, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// The generated files are valid schedules (the benchmarks measure real work).
func TestGenerate(t *testing.T) {
	for name, data := range map[string][]byte{"json": scheduletest.JSON(1000), "xml": scheduletest.XML(1000)} {
		s, err := schedule.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(s.Events) != 1000 {
			t.Fatalf("%s: %d events", name, len(s.Events))
		}
	}
}
