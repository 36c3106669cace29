package web

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/transcode"
	"github.com/salon/salon/web/i18n"
)

// stageHandlers serve the stages API; the pages reuse its views.
type stageHandlers struct {
	stages    stageSource
	viewers   *viewers
	transcode transcodeStates // optional
	english   *i18n.Localizer // the API's warnings text
	*responder
}

// transcodeStates is the state of the ffmpeg child making a stage's
// renditions (-transcode); *transcode.Transcoder satisfies it.
type transcodeStates interface {
	State(stage string) (transcode.StageState, bool)
}

func (s *stageHandlers) register(rt *router) {
	rt.handle("GET /api/stages", s.handleStages)
	rt.handle("GET /api/stages/{stage}", s.handleStage)
}

// siteHandlers serve what every site has: /healthz, the static files, and
// the answer for paths no other route claims.
type siteHandlers struct {
	health healthSource // optional
	assets *assets
	*responder
	*renderer
}

func (s *siteHandlers) register(rt *router) {
	rt.handle("GET /static/{path...}", s.handleStatic)
	rt.handle("GET /healthz", s.handleHealth)
	rt.handle("/", s.handleNotFound)
}

// stageJSON is a stage as the API shows it: the registry's snapshot plus
// what web knows (viewers, URLs).
type stageJSON struct {
	stream.StageInfo
	// WarningText is StageInfo.Warnings in English, for scripts ("warnings",
	// as before the codes); Renditions likewise for each rendition.
	WarningText []string        `json:"warnings,omitempty"`
	Renditions  []renditionJSON `json:"renditions,omitempty"`
	Viewers     int             `json:"viewers"`
	PlaylistURL string          `json:"playlist_url"`
	PageURL     string          `json:"page_url"`
}

// renditionJSON is one publish path in the API: the registry's snapshot and
// its warnings in English.
type renditionJSON struct {
	stream.RenditionInfo
	WarningText []string `json:"warnings,omitempty"`
}

func (s *stageHandlers) stageJSON(info stream.StageInfo) stageJSON {
	if info.Tracks == nil {
		info.Tracks = []stream.TrackInfo{}
	}
	var rends []renditionJSON
	for _, ri := range info.Renditions {
		rends = append(rends, renditionJSON{RenditionInfo: ri, WarningText: warningTexts(s.english, ri.Warnings)})
	}
	return stageJSON{
		StageInfo:   info,
		WarningText: warningTexts(s.english, info.Warnings),
		Renditions:  rends,
		Viewers:     s.viewers.total(info.Name, time.Now()),
		PlaylistURL: s.url("/live/" + info.Name + "/index.m3u8"),
		PageURL:     s.url("/live/" + info.Name),
	}
}

// stageList is every known stage, live ones first, then by name.
func (s *stageHandlers) stageList() []stageJSON {
	infos := s.stages.Stages()
	out := make([]stageJSON, 0, len(infos))
	for _, info := range infos {
		out = append(out, s.stageJSON(info))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Live != out[j].Live {
			return out[i].Live
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// stageInfo finds one stage's snapshot.
func (s *stageHandlers) stageInfo(name string) (stream.StageInfo, bool) {
	for _, info := range s.stages.Stages() {
		if info.Name == name {
			return info, true
		}
	}
	return stream.StageInfo{}, false
}

func (s *stageHandlers) handleStages(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, s.stageList())
}

func (s *stageHandlers) handleStage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("stage")
	if !stream.ValidStage(name) {
		s.jsonError(w, http.StatusNotFound, "no such stage: stage names are 1-64 of a-z, 0-9 and -")
		return
	}
	info, ok := s.stageInfo(name)
	if !ok {
		s.jsonError(w, http.StatusNotFound, "unknown stage "+name+": nobody has published to it since the server started")
		return
	}
	out := stageDetailJSON{stageJSON: s.stageJSON(info)}
	if s.transcode != nil {
		if st, ok := s.transcode.State(name); ok {
			out.Transcode = &st
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}

// stageDetailJSON is one stage as /api/stages/{stage} shows it: the list's
// entry, plus the state of the renditions salon makes (-transcode: running
// or restarting with back-off, last exit, units dropped), when it makes any.
type stageDetailJSON struct {
	stageJSON
	Transcode *transcode.StageState `json:"transcode,omitempty"`
}

func (s *siteHandlers) handleHealth(w http.ResponseWriter, r *http.Request) {
	var problems []string
	if s.health != nil {
		problems = s.health.Problems()
	}
	if len(problems) == 0 {
		s.writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
		return
	}
	// Still 200: the node serves viewers, and a load balancer or supervisor
	// must not take it away for a problem only a person can fix.
	s.writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "problems": problems})
}

// handleNotFound answers paths no route claims: JSON for API-like paths,
// a page for the rest.
func (s *siteHandlers) handleNotFound(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/live/") || r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.jsonError(w, http.StatusNotFound, "not found")
		return
	}
	s.pageError(w, r, http.StatusNotFound, "err.notFound", "err.notFound.help")
}

// writeJSON writes v as JSON with status. API answers are never cached:
// they describe the present.
func (s *responder) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode json response", "error", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// jsonError is the one way handlers report an error to API clients.
func (s *responder) jsonError(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}
