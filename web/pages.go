package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/i18n"
)

// pageHandlers serve the public pages: home, a stage's live and questions
// pages, a talk's page (talks_pages.go).
type pageHandlers struct {
	talks  talkReader // optional
	stages *stageHandlers
	rooms  *roomHandlers // the sponsors between talks
	*responder
	*renderer
	*auth
	*hiddenTalks
}

func (s *pageHandlers) register(rt *router) {
	rt.handle("GET /{$}", s.handleHome)
	rt.handle("GET /live/{stage}", s.handleLivePage)
	rt.handle("GET /live/{stage}/questions", s.handleQuestionsPage)
	rt.handle("GET /talks/{id}", s.handleTalkPage)
}

// parsePages parses the templates with lang's functions (t, tn, when, …:
// i18n_pages.go) besides the shared ones.
func parsePages(a *assets, lang template.FuncMap) (*template.Template, error) {
	funcs := template.FuncMap{
		"asset":    a.url,
		"bitrate":  formatBitrate,
		"slideURL": func(id, name string) string { return "/archive/" + archive.SlideKey(id, url.PathEscape(name)) },
	}
	for k, v := range lang {
		funcs[k] = v
	}
	return template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
}

// pageData is what every page template gets.
type pageData struct {
	Title     string
	PublicURL string
	HasHLS    bool
	HLSURL    string
	// pdf.js for the slides panel
	HasPDFJS       bool
	PDFJSURL       string
	PDFJSWorkerURL string

	// home
	Stages []stageJSON

	// live
	Stage     stageJSON
	StageName string
	Known     bool

	// home: the programme; talk: one talk
	LiveTalks []talkJSON
	Upcoming  []talkJSON
	Replays   []talkDay
	Talk      talkJSON

	// live and talk: the chat panel; questions: its stage
	Chat chatPanel

	// talk: where a deep link (?t=, ?slide=) opens the replay
	Nav deepLink

	// speak: the upload cap in MB
	MaxUploadMB int64

	// the organiser console
	Admin adminData
	// the console's talk page and the room screen (room.go)
	Extras extrasData

	// the page's language, its switcher and the event's zone (i18n_pages.go)
	I18n pageLang

	// error
	Status  int
	Heading string
	Message string
}

// chatPanel is what the chat panel template needs. Mode is "live" (the
// stage's websocket), "replay" (a talk's archived chat, in step with the
// video) or "" (no panel: a talk that has not started).
type chatPanel struct {
	Stage     string
	Mode      string
	ReplayURL string
}

// csp allows our own scripts and styles only; media and hls.js's worker come
// from blob: URLs (MediaSource). connect-src also allows PublicURL's origin,
// where playlists come from when salon sits behind a CDN.
func (s *renderer) csp() string {
	origin := ""
	if u, err := url.Parse(s.publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		origin = " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		// data: for hls.js's subtitle <track> elements (src "data:,WEBVTT";
		// it adds their cues itself).
		"media-src 'self' blob: data:" + origin,
		"worker-src 'self' blob:",
		"connect-src 'self'" + origin,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'self'",
	}, "; ")
}

// render writes page name in the request's language (i18n_pages.go).
func (s *renderer) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	tag := s.lang(w, r)
	d.I18n = s.pageLang(r, tag)
	d.PublicURL = s.publicURL
	d.HasHLS = s.assets.hasHLS
	d.HLSURL = s.assets.url(hlsAsset)
	d.HasPDFJS = s.assets.hasPDFJS
	d.PDFJSURL = s.assets.url(pdfjsAsset)
	d.PDFJSWorkerURL = s.assets.url(pdfjsWorkerAsset)
	var buf bytes.Buffer
	if err := s.pages[tag].ExecuteTemplate(&buf, name, d); err != nil {
		s.log.Error("render page", "page", name, "error", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Add("Vary", "Accept-Language, Cookie")
	h.Set("Content-Security-Policy", s.csp())
	if h.Get("Cache-Control") == "" { // a handler may ask for less caching
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageError is the error page; heading and msg are catalog keys (kv fills
// their placeholders).
func (s *renderer) pageError(w http.ResponseWriter, r *http.Request, status int, heading, msg string, kv ...any) {
	l := s.tr(r)
	h := l.T(heading, kv...)
	s.render(w, r, status, "error.html", pageData{Title: h, Status: status, Heading: h, Message: l.T(msg, kv...)})
}

func (s *pageHandlers) handleHome(w http.ResponseWriter, r *http.Request) {
	live, upcoming, replays := s.homeTalks(s.tr(r))
	s.render(w, r, http.StatusOK, "home.html", pageData{Title: s.tr(r).T("home.title"), Stages: s.stages.stageList(),
		LiveTalks: live, Upcoming: upcoming, Replays: replays})
}

// stagePage is the stage a page's URL names, or a 404 page for a bad name.
func (s *renderer) stagePage(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("stage")
	if !stream.ValidStage(name) {
		s.pageError(w, r, http.StatusNotFound, "err.noStage", "err.noStage.help")
		return "", false
	}
	return name, true
}

func (s *pageHandlers) handleLivePage(w http.ResponseWriter, r *http.Request) {
	name, ok := s.stagePage(w, r)
	if !ok {
		return
	}
	// A stage nobody has published to yet still gets its page: people open
	// it before the stream starts, and it comes alive by itself.
	info, known := s.stages.stageInfo(name)
	if !known {
		info = stream.StageInfo{Name: name}
	}
	s.render(w, r, http.StatusOK, "live.html", pageData{
		Title:     name,
		Stage:     s.stages.stageJSON(info),
		StageName: name,
		Known:     known,
		Chat:      chatPanel{Stage: name, Mode: "live"},
		Extras:    extrasData{Room: s.rooms.room(r, name)}, // sponsors between talks
	})
}

// handleQuestionsPage is the questions view for the speaker and the
// organiser: the stage's questions, most votes first, in large type; for an
// organiser logged in to the console (or with the admin token in the
// address's fragment, #token=…) each gets a button that marks it answered.
func (s *pageHandlers) handleQuestionsPage(w http.ResponseWriter, r *http.Request) {
	name, ok := s.stagePage(w, r)
	if !ok {
		return
	}
	d := pageData{
		Title:     s.tr(r).T("questions.title", "Stage", name),
		StageName: name,
		Chat:      chatPanel{Stage: name, Mode: "live"},
	}
	// An organiser logged in to the console marks questions answered with
	// the session: no token in the address.
	if sess, ok := s.adminSession(r); ok {
		d.Admin.CSRF = sess.csrf
		w.Header().Set("Cache-Control", "no-store")
	}
	s.render(w, r, http.StatusOK, "questions.html", d)
}

// trackLine describes a stage's tracks in one line, e.g.
// "H264 1280×720 30 fps · AAC 48 kHz stereo · 2.6 Mbit/s" (the channel words
// in l's language; lib/format.js writes the same).
func trackLine(l *i18n.Localizer, tracks []stream.TrackInfo) string {
	var parts []string
	var total int64
	for _, t := range tracks {
		total += t.Bitrate
		p := t.Codec
		switch t.Kind {
		case "video":
			if t.Width > 0 && t.Height > 0 {
				p += fmt.Sprintf(" %d×%d", t.Width, t.Height)
			}
			if t.FrameRate > 0 {
				p += fmt.Sprintf(" %.3g fps", t.FrameRate)
			}
		case "audio":
			if t.SampleRate > 0 {
				p += fmt.Sprintf(" %.3g kHz", float64(t.SampleRate)/1000)
			}
			switch t.Channels {
			case 0:
			case 1:
				p += " " + l.T("track.mono")
			case 2:
				p += " " + l.T("track.stereo")
			default:
				p += " " + l.T("track.channels", "N", t.Channels)
			}
		}
		parts = append(parts, p)
	}
	if total > 0 {
		parts = append(parts, formatBitrate(total))
	}
	return strings.Join(parts, " · ")
}

func formatBitrate(bps int64) string {
	switch {
	case bps >= 1_000_000:
		return fmt.Sprintf("%.1f Mbit/s", float64(bps)/1e6)
	case bps >= 1000:
		return fmt.Sprintf("%d kbit/s", bps/1000)
	default:
		return fmt.Sprintf("%d bit/s", bps)
	}
}
