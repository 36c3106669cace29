package web

import (
	"net/http"
	"strings"

	"github.com/salon/salon/archive"
)

// A hidden talk (talk.json "hidden": true) is withdrawn from the public:
// its page, its chat replay, its MP4, its objects under /archive/talks/{id}/,
// the home page and GET /api/talks answer as if it did not exist, except to
// the organiser (bearer token or console session). Nothing is deleted.

// hiddenTalks answers for the hidden talks: the groups that serve a talk's
// page, chat, MP4 or objects hold it.
type hiddenTalks struct {
	talks talkGetter // nil without a replay library: nothing is hidden
	auth  *auth
	resp  *responder
}

// talkGetter reads one talk.
type talkGetter interface {
	Get(id string) (archive.Talk, error)
}

// adminRequest tells whether r comes from the organiser, without answering.
func (s *auth) adminRequest(r *http.Request) bool {
	if _, ok := s.adminSession(r); ok {
		return true
	}
	return s.isAdmin(bearer(r))
}

// hiddenFrom tells whether talk id is hidden and r may not see it.
func (s *hiddenTalks) hiddenFrom(r *http.Request, id string) bool {
	if s.talks == nil {
		return false
	}
	t, err := s.talks.Get(id)
	return err == nil && t.Hidden && !s.auth.adminRequest(r)
}

// hideTalk answers 404, as for a talk that does not exist, when talk id is
// hidden from r; it returns whether it did.
func (s *hiddenTalks) hideTalk(w http.ResponseWriter, r *http.Request, id string) bool {
	if !s.hiddenFrom(r, id) {
		return false
	}
	s.resp.jsonError(w, http.StatusNotFound, "talk \""+id+"\": "+archive.ErrNotFound.Error())
	return true
}

// hiddenArchiveKey tells whether key is below talks/{id}/ of a talk hidden
// from r.
func (s *hiddenTalks) hiddenArchiveKey(r *http.Request, key string) bool {
	rest, ok := strings.CutPrefix(key, "talks/")
	if !ok {
		return false
	}
	id, _, ok := strings.Cut(rest, "/")
	return ok && s.hiddenFrom(r, id)
}

// visibleTalks drops the talks hidden from r.
func (s *hiddenTalks) visibleTalks(r *http.Request, talks []archive.Talk) []archive.Talk {
	if r != nil && s.auth.adminRequest(r) {
		return talks
	}
	out := talks[:0:0]
	for _, t := range talks {
		if !t.Hidden {
			out = append(out, t)
		}
	}
	return out
}
