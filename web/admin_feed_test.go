package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
)

// sseEvent reads the next event (name and data) from a server-sent stream.
func sseEvent(t *testing.T, rd *bufio.Reader) (string, string) {
	t.Helper()
	var name, data string
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read the event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func TestServer_ConsoleEvents(t *testing.T) {
	s, _, _ := consoleServer(t)
	base := "http://" + s.Addr()
	cookie, _ := login(t, base)
	stages := s.Stages.(*fakeStages)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/admin/events", nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /admin/events: %d %s", resp.StatusCode, ct)
	}
	rd := bufio.NewReader(resp.Body)

	// First the talks, then a health snapshot, at once.
	name, data := sseEvent(t, rd)
	if name != "talks" || !strings.Contains(data, `"title":"开幕"`) {
		t.Fatalf("first event %s %s, want the talks", name, data)
	}
	health := func() consoleSnapshot {
		t.Helper()
		for {
			name, data := sseEvent(t, rd)
			if name != "health" {
				continue
			}
			var snap consoleSnapshot
			if err := json.Unmarshal([]byte(data), &snap); err != nil {
				t.Fatalf("health %s: %v", data, err)
			}
			return snap
		}
	}
	stage := func(snap consoleSnapshot, name string) consoleStage {
		t.Helper()
		for _, st := range snap.Stages {
			if st.Name == name {
				return st
			}
		}
		t.Fatalf("no stage %s in %+v", name, snap.Stages)
		return consoleStage{}
	}
	snap := health()
	main := stage(snap, "main")
	if !main.Live || len(main.Tracks) != 2 || len(main.Bitrate) == 0 || main.Bitrate[len(main.Bitrate)-1] != 2_628_000 {
		t.Fatalf("main: %+v, want live with its tracks and bitrate", main)
	}
	if main.Auto == nil || *main.Auto {
		t.Fatalf("main: auto %v: want the programme's state (off)", main.Auto)
	}
	stage(snap, "attic")

	// The publisher leaves: the next snapshots say so, and the bitrate
	// history grows by one sample a second.
	before := len(main.Bitrate)
	lost := time.Now().UTC()
	stages.mu.Lock()
	for i := range stages.stages {
		if stages.stages[i].Name == "main" {
			stages.stages[i] = stream.StageInfo{Name: "main", LastSeen: &lost}
		}
	}
	stages.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); ; {
		main = stage(health(), "main")
		if !main.Live && main.LastSeen != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the console never heard that the publisher left")
		}
	}
	if n := len(main.Bitrate); n <= before || n > before+6 || main.Bitrate[n-1] != 0 {
		t.Fatalf("bitrate history %v (was %d long): want one sample per second, 0 once offline", main.Bitrate, before)
	}
}

// BenchmarkConsoleFeed_Update is the feed's work per snapshot with 20
// consoles open: 2 stages (one live), 30 talks, one encode shared by all.
func BenchmarkConsoleFeed_Update(b *testing.B) {
	_, stages := newFakes()
	lib := &fakeTalks{talks: map[string]archive.Talk{}}
	for i := range 30 {
		id := fmt.Sprintf("talk-%d", i)
		lib.talks[id] = archive.Talk{ID: id, Title: fmt.Sprintf("第%d场：社区的一年", i), Stage: []string{"main", "attic"}[i%2],
			Speakers: []archive.Speaker{{Name: "王小明"}}, StartsAt: time.Now().Add(time.Duration(i) * 30 * time.Minute)}
	}
	f := &consoleFeed{stages: stages, lib: lib, zone: &eventZone{fixed: time.UTC}, viewers: newViewers(viewerWindow),
		resp: &responder{log: slog.New(slog.DiscardHandler)}, log: slog.New(slog.DiscardHandler),
		history: map[string]*stageHistory{}, subs: map[chan []byte]struct{}{}}
	var chans []chan []byte
	for range 20 {
		ch := make(chan []byte, feedQueue)
		f.subs[ch] = struct{}{}
		chans = append(chans, ch)
	}
	b.ReportAllocs()
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		f.update(now.Add(time.Duration(i) * time.Second))
		for _, ch := range chans {
			for len(ch) > 0 {
				<-ch
			}
		}
	}
}

// zonedSchedule is an import service that imported a schedule in zone.
type zonedSchedule struct {
	fakeSchedule
	zone string
}

func (z zonedSchedule) ScheduleZone() string { return z.zone }

func TestEventZone_zoneName(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	cases := []struct {
		name     string
		explicit *time.Location
		schedule scheduleService
		want     string
	}{
		{"-timezone wins", berlin, zonedSchedule{zone: "Asia/Shanghai"}, "Europe/Berlin"},
		{"the schedule's zone", nil, zonedSchedule{zone: "Asia/Shanghai"}, "Asia/Shanghai"},
		{"no schedule zone: the machine's", nil, zonedSchedule{}, "Asia/Tokyo"},
		{"a zone that does not load: the machine's", nil, zonedSchedule{zone: "Mars/Olympus"}, "Asia/Tokyo"},
		{"no import service", nil, nil, "Asia/Tokyo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &eventZone{fixed: tc.explicit, fallback: tokyo, schedule: tc.schedule, zones: newZoneCache()}
			if got := s.zoneName(); got != tc.want {
				t.Errorf("zone %q, want %q", got, tc.want)
			}
		})
	}
}
