package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/salon/salon/archive"
)

// adminTalkHandlers serve the console's talk page and what it uses: the
// speaker link's QR code and the trim player's playlist.
type adminTalkHandlers struct {
	talks        talkSelector  // may also select a window (windowSelector)
	slides       slideLibrary  // may tell a speaker token exists (speakerLinkState)
	archive      archiveStater // optional: what of a talk is archived
	speakerLinks *speakerLinks
	log          *slog.Logger
	*responder
	*renderer
	*auth
	*eventZone
}

// archiveStater tells whether an object is in the bucket.
type archiveStater interface {
	Stat(ctx context.Context, key string) (archive.ObjectInfo, error)
}

func (s *adminTalkHandlers) register(rt *router) {
	rt.handle("GET /admin/talks/{id}", s.handleAdminTalk)
	rt.handle("GET /api/talks/{id}/speaker-link/qr.png", rt.need(s.slides != nil && s.talks != nil, noTalks, s.handleSpeakerQR))
	rt.handle("GET /archive/talks/{id}/trim.m3u8", rt.need(s.talks != nil, noTalks, s.handleTrimPreview))
}

// speakerLinks remembers the speaker links issued since start, so that the
// console can show and copy the current one and draw its QR code from the
// server's state: the token never has to travel in a URL (the QR route
// takes only the talk id). The library keeps only the token's hash, so after
// a restart the link is unknown here until the organiser makes a new one.
// The zero value is ready; mu guards links.
type speakerLinks struct {
	mu    sync.Mutex
	links map[string]string // talk id → speaker URL
}

func (l *speakerLinks) set(id, link string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.links == nil {
		l.links = map[string]string{}
	}
	l.links[id] = link
}

func (l *speakerLinks) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.links, id)
}

func (l *speakerLinks) get(id string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	link, ok := l.links[id]
	return link, ok
}

// speakerLinkState tells whether a talk has a speaker link at all (made
// before a restart, say); *archive.Library has it. Optional: without it the
// console only knows the links issued since start.
type speakerLinkState interface {
	HasSpeakerToken(id string) bool
}

// windowSelector previews a cut over another window than the talk's;
// *archive.Library has it. Optional: without it the trim player shows the
// talk's replay as it is.
type windowSelector interface {
	SelectWindow(ctx context.Context, id string, w archive.Window) (archive.Selection, error)
}

// trimMargin is how much of the stage's recording the trim player shows
// around the talk's window, so the handles can move out as well as in.
const trimMargin = 5 * time.Minute

// archivedState is what of an ended talk is in the bucket.
type archivedState struct {
	Playlist   bool `json:"playlist"`
	Chat       bool `json:"chat"`
	Slides     int  `json:"slides"`
	SlideTrack bool `json:"slide_track"`
}

// adminTalkData is the talk page's own part of pageData.
type adminTalkData struct {
	SpeakerLink    string // the current link, when issued since start
	HasSpeakerLink bool
	Archived       archivedState
	PreviewURL     string // the trim player's playlist
	// Initial is the talk as the API shows it plus the trim window, as JSON
	// in a data block (the CSP allows no inline script).
	Initial template.JS
}

// handleAdminTalk is one talk in the console: its speaker link and QR code,
// its slides, and once it has ended its replay with the trim handles, hide
// or publish, and what was archived.
func (s *adminTalkHandlers) handleAdminTalk(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSessionPage(w, r)
	if !ok {
		return
	}
	if s.talks == nil {
		s.pageError(w, r, http.StatusServiceUnavailable, "err.noLibrary", "err.noLibrary.help")
		return
	}
	t, err := s.talks.Get(r.PathValue("id"))
	if err != nil {
		s.pageError(w, r, http.StatusNotFound, "err.noTalk", "err.noTalk.console")
		return
	}
	tj := s.talkJSON(t)
	d := adminTalkData{}
	d.SpeakerLink, d.HasSpeakerLink = s.speakerLinks.get(t.ID)
	if st, ok := s.slides.(speakerLinkState); ok && !d.HasSpeakerLink {
		d.HasSpeakerLink = st.HasSpeakerToken(t.ID)
	}
	if t.Recording != nil {
		d.Archived = s.archivedState(r.Context(), t)
		d.PreviewURL = "/archive/talks/" + t.ID + "/trim.m3u8"
	}
	init, err := json.Marshal(struct {
		Talk       talkJSON `json:"talk"`
		PreviewURL string   `json:"preview_url"`
	}{tj, d.PreviewURL})
	if err != nil {
		s.log.Error("encode the talk page's state", "talk", t.ID, "error", err)
		init = []byte(`{}`)
	}
	d.Initial = template.JS(init)
	w.Header().Set("Cache-Control", "no-store") // it may hold the speaker link
	s.render(w, r, http.StatusOK, "admin_talk.html", pageData{
		Title:  s.tr(r).T("console.talk.title", "Title", t.Title),
		Talk:   tj,
		Admin:  adminData{CSRF: sess.csrf, Zone: s.zoneName()},
		Extras: extrasData{Talk: d},
	})
}

// archivedState looks in the bucket for what the end of the talk wrote.
func (s *adminTalkHandlers) archivedState(ctx context.Context, t archive.Talk) archivedState {
	st := archivedState{Slides: len(t.Slides)}
	if s.archive == nil {
		return st
	}
	exists := func(key string) bool {
		_, err := s.archive.Stat(ctx, key)
		if err != nil && !errors.Is(err, archive.ErrNotFound) {
			s.log.Warn("archive check failed", "key", key, "error", err)
		}
		return err == nil
	}
	st.Playlist = exists(archive.TalkPlaylistKey(t.ID))
	st.Chat = exists(archive.ChatKey(t.ID))
	st.SlideTrack = exists(archive.SlidesVTTKey(t.ID))
	return st
}

// handleSpeakerQR draws the QR code of the talk's current speaker link
// (admin), from the link salon issued: the token is in no URL.
func (s *adminTalkHandlers) handleSpeakerQR(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	id := r.PathValue("id")
	if _, err := s.talks.Get(id); err != nil {
		s.talkError(w, err)
		return
	}
	link, ok := s.speakerLinks.get(id)
	if !ok {
		s.jsonError(w, http.StatusNotFound, "salon does not know this talk's speaker link (it keeps only a hash, and forgets the link at a restart): make a new one with POST /api/talks/"+id+"/speaker-link")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeQR(w, link, 512)
}

// writeQR answers a PNG of text's QR code, size pixels square.
func (s *responder) writeQR(w http.ResponseWriter, text string, size int) {
	png, err := qrcode.Encode(text, qrcode.Medium, size)
	if err != nil {
		s.log.Error("draw a QR code", "error", err)
		s.jsonError(w, http.StatusInternalServerError, "could not draw the QR code: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}

// handleTrimPreview is the trim player's playlist (admin): the stage's
// recording from trimMargin before the talk's window to trimMargin after,
// cut like the replay. It sits beside talks/{id}/index.m3u8 under /archive,
// so the cut's relative URIs (../../stages/…) resolve the same.
func (s *adminTalkHandlers) handleTrimPreview(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	t, err := s.talks.Get(r.PathValue("id"))
	if err != nil {
		s.talkError(w, err)
		return
	}
	if t.Recording == nil {
		s.jsonError(w, http.StatusConflict, "the talk has not started: there is nothing to trim yet")
		return
	}
	var sel archive.Selection
	if ws, ok := s.talks.(windowSelector); ok {
		end := time.Now()
		if t.Recording.End != nil {
			end = t.Recording.End.Add(trimMargin)
		}
		sel, err = ws.SelectWindow(r.Context(), t.ID, archive.Window{Start: t.Recording.Start.Add(-trimMargin), End: &end})
	} else {
		sel, err = s.talks.Selection(r.Context(), t.ID)
	}
	if err != nil {
		s.talkError(w, err)
		return
	}
	sel.Offset = 0 // the player starts at the beginning of the margin
	pl, err := sel.Playlist()
	if err != nil {
		s.talkError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	h.Set("Cache-Control", "no-store")
	w.Write(pl)
}
