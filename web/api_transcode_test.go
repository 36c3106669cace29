package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salon/salon/transcode"
)

// fakeTranscode answers State for the stages it holds.
type fakeTranscode map[string]transcode.StageState

func (f fakeTranscode) State(stage string) (transcode.StageState, bool) {
	s, ok := f[stage]
	return s, ok
}

func TestStageHandlers_handleStage_transcode(t *testing.T) {
	live, stages := newFakes()
	next := time.Date(2026, 12, 2, 10, 0, 5, 0, time.UTC)
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: prometheus.NewRegistry(),
		Transcode: fakeTranscode{"main": {
			Stage: "main", Live: true, Renditions: []string{"480p"}, Restarts: 2,
			LastExit: "exit status 1: Conversion failed!", NextStart: &next, Dropped: 12,
		}},
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()

	tests := []struct {
		stage   string
		want    bool // a transcode object
		restart int
	}{
		{"main", true, 2},
		{"attic", false, 0}, // no -transcode state for it
	}
	for _, tt := range tests {
		res := do(t, "GET", base+"/api/stages/"+tt.stage, nil)
		var got struct {
			Name      string         `json:"name"`
			Transcode map[string]any `json:"transcode"`
		}
		if err := json.Unmarshal([]byte(res.body), &got); err != nil || res.status != 200 || got.Name != tt.stage {
			t.Fatalf("%s: status %d, decode %q: %v", tt.stage, res.status, res.body, err)
		}
		if (got.Transcode != nil) != tt.want {
			t.Fatalf("%s: transcode %v, want present %v", tt.stage, got.Transcode, tt.want)
		}
		if !tt.want {
			continue
		}
		for key, want := range map[string]any{
			"running": false, "restarts": float64(tt.restart), "last_exit": "exit status 1: Conversion failed!",
			"next_start": "2026-12-02T10:00:05Z", "units_dropped": float64(12),
		} {
			if got.Transcode[key] != want {
				t.Errorf("%s: transcode.%s = %v, want %v", tt.stage, key, got.Transcode[key], want)
			}
		}
	}
	// The list stays as it was: no transcode detail there.
	res := do(t, "GET", base+"/api/stages", nil)
	var list []map[string]any
	if err := json.Unmarshal([]byte(res.body), &list); err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if _, ok := st["transcode"]; ok {
			t.Errorf("the stage list shows transcode state: %v", st)
		}
	}
}

func TestConsoleFeed_snapshot_transcode(t *testing.T) {
	_, stages := newFakes()
	f := &consoleFeed{stages: stages, zone: &eventZone{fixed: time.UTC}, viewers: newViewers(viewerWindow),
		transcode: fakeTranscode{"main": {Stage: "main", Live: true, Running: true, PID: 42, Restarts: 1, Dropped: 3}},
		history:   map[string]*stageHistory{}}
	snap := f.snapshot(time.Now())
	got := map[string]*transcode.StageState{}
	for _, st := range snap.Stages {
		got[st.Name] = st.Transcode
	}
	if st := got["main"]; st == nil || !st.Running || st.PID != 42 || st.Restarts != 1 || st.Dropped != 3 {
		t.Errorf("main's transcode state in the console feed: %+v", st)
	}
	if st, ok := got["attic"]; !ok || st != nil {
		t.Errorf("attic (no -transcode state): listed %v, state %+v; want listed without state", ok, st)
	}
}
