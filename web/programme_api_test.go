package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/programme"
)

// fakeProgramme drives the fake library as the programme would; the real
// one is tested in package programme and end to end in cmd/salon.
type fakeProgramme struct {
	lib  *fakeTalks
	mu   sync.Mutex
	auto map[string]bool
}

func (p *fakeProgramme) Start(ctx context.Context, id string) (archive.Talk, error) {
	return p.lib.Start(ctx, id, time.Now())
}

func (p *fakeProgramme) Stop(ctx context.Context, id string) (archive.Talk, error) {
	return p.lib.Stop(ctx, id, time.Now())
}

func (p *fakeProgramme) stageTalks(stage string) []archive.Talk {
	var out []archive.Talk
	for _, t := range p.lib.List() {
		if t.Stage == stage {
			out = append(out, t)
		}
	}
	return out
}

func (p *fakeProgramme) Next(ctx context.Context, stage string) (programme.Change, error) {
	ts := p.stageTalks(stage)
	if len(ts) == 0 {
		return programme.Change{}, fmt.Errorf("stage %s: %w", stage, archive.ErrNotFound)
	}
	var ch programme.Change
	for _, t := range ts {
		if t.Live() {
			st, err := p.Stop(ctx, t.ID)
			if err != nil {
				return ch, err
			}
			ch.Stopped = &st
		}
	}
	for _, t := range ts {
		if t.Recording == nil {
			st, err := p.Start(ctx, t.ID)
			ch.Started = st
			return ch, err
		}
	}
	return programme.Change{}, fmt.Errorf("stage %s has no next talk: %w", stage, archive.ErrConflict)
}

func (p *fakeProgramme) SetAuto(stage string, on bool) error {
	if len(p.stageTalks(stage)) == 0 {
		return fmt.Errorf("stage %s: %w", stage, archive.ErrNotFound)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.auto == nil {
		p.auto = map[string]bool{}
	}
	p.auto[stage] = on
	return nil
}

func (p *fakeProgramme) Day() []programme.StageDay {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := p.lib.List()
	if len(ts) == 0 {
		return nil
	}
	return []programme.StageDay{{Stage: ts[0].Stage, Auto: p.auto[ts[0].Stage], Talks: ts}}
}

// TestServer_ProgrammeAPI: the stage routes refuse without the admin token,
// validate the stage and body, and map the programme's errors.
func TestServer_ProgrammeAPI(t *testing.T) {
	_, base := startTalkServer(t, nil)
	if r := send(t, "POST", base+"/api/talks", testAdmin, "application/json", `{"id":"a","title":"A","stage":"main"}`); r.status != 201 {
		t.Fatal(r.body)
	}
	cases := []struct {
		name, method, path, token, body string
		want                            int
		wantBody                        string
	}{
		{"auto without token", "PUT", "/api/stages/main/auto", "", `{"on":true}`, 401, ""},
		{"auto wrong token", "PUT", "/api/stages/main/auto", "nope", `{"on":true}`, 401, ""},
		{"next without token", "POST", "/api/stages/main/next", "", "", 401, ""},
		{"auto bad stage", "PUT", "/api/stages/Main/auto", testAdmin, `{"on":true}`, 404, "no such stage"},
		{"auto unknown stage", "PUT", "/api/stages/side/auto", testAdmin, `{"on":true}`, 404, ""},
		{"auto no flag", "PUT", "/api/stages/main/auto", testAdmin, `{}`, 400, `send`},
		{"auto unknown field", "PUT", "/api/stages/main/auto", testAdmin, `{"on":true,"x":1}`, 400, "malformed"},
		{"auto", "PUT", "/api/stages/main/auto", testAdmin, `{"on":true}`, 200, `"auto":true`},
		{"programme", "GET", "/api/programme", "", "", 200, `"auto":true`},
		{"next unknown stage", "POST", "/api/stages/side/next", testAdmin, "", 404, ""},
		{"next", "POST", "/api/stages/main/next", testAdmin, "", 200, `"stopped":null`},
		{"next none left", "POST", "/api/stages/main/next", testAdmin, "", 409, "no next talk"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, base+tc.path, tc.token, "application/json", tc.body)
			if r.status != tc.want || !strings.Contains(r.body, tc.wantBody) {
				t.Fatalf("%s %s = %d %s, want %d with %q", tc.method, tc.path, r.status, r.body, tc.want, tc.wantBody)
			}
		})
	}
}

// TestServer_TalkJSONDoNotRecord: a do_not_record talk gets no replay,
// download or slide-track URL.
func TestServer_TalkJSONDoNotRecord(t *testing.T) {
	_, base := startTalkServer(t, nil)
	send(t, "POST", base+"/api/talks", testAdmin, "application/json", `{"title":"T","stage":"main","do_not_record":true}`)
	send(t, "POST", base+"/api/talks/talk-1/start", testAdmin, "", "")
	send(t, "POST", base+"/api/talks/talk-1/stop", testAdmin, "", "")
	r := send(t, "GET", base+"/api/talks/talk-1", "", "", "")
	if !strings.Contains(r.body, `"ended":true`) || strings.Contains(r.body, "playlist_url") || strings.Contains(r.body, "download_url") {
		t.Fatalf("do_not_record talk JSON %s", r.body)
	}
}
