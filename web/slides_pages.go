package web

import (
	"fmt"
	"net/http"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/i18n"
)

// handleSpeakPage is the speaker's upload page, /speak/{id}?token=…. The
// token is checked here so that a wrong link says so at once; the page's
// script sends it with every API call. No Referer leaves the page: the
// token is in its URL.
func (s *slideHandlers) handleSpeakPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	id := r.PathValue("id")
	if s.talks == nil || s.slides == nil {
		s.pageError(w, r, http.StatusNotFound, "err.noLibrary", "err.noLibrary.help")
		return
	}
	t, err := s.talks.Get(id)
	if err != nil {
		s.pageError(w, r, http.StatusNotFound, "err.noTalk", "err.noTalk.speaker")
		return
	}
	tok := r.URL.Query().Get("token")
	tid, ok := s.slides.SpeakerTalk(tok)
	switch {
	case tok == "" || !ok:
		s.pageError(w, r, http.StatusUnauthorized, "err.badLink", "err.badLink.help")
		return
	case tid != id:
		s.pageError(w, r, http.StatusForbidden, "err.otherTalk", "err.otherTalk.help")
		return
	}
	s.render(w, r, http.StatusOK, "speak.html", pageData{Title: s.tr(r).T("speak.title", "Title", t.Title), Talk: s.talkJSON(t), MaxUploadMB: s.maxUpload >> 20})
}

// formatBytes writes a file size for people: "812 kB", "14.2 MB".
func formatBytes(l *i18n.Localizer, n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%d kB", n/1e3)
	default:
		return l.N("size.bytes", int(n))
	}
}

// slideLabel names a slide file's type for people.
func slideLabel(l *i18n.Localizer, mediaType string) string {
	if mediaType == archive.SlideODP.MediaType {
		return l.T("slides.odp")
	}
	for _, st := range []archive.SlideType{archive.SlidePDF, archive.SlidePPTX, archive.SlideODP, archive.SlideKeynote} {
		if st.MediaType == mediaType {
			return st.Label
		}
	}
	return l.T("slides.file")
}
