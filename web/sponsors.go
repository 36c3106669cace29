package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/salon/salon/archive"
)

// sponsorHandlers serve the sponsors' logos: the API, the logos, the
// console's sponsors page; the room screen lists them.
type sponsorHandlers struct {
	sponsors sponsorLibrary // optional: the routes answer 503 without it
	log      *slog.Logger
	*responder
	*renderer
	*auth
	*eventZone
}

// sponsorLibrary keeps the sponsors' logos; *archive.Sponsors satisfies it.
type sponsorLibrary interface {
	List() []archive.Sponsor
	Add(ctx context.Context, name string, r io.Reader) (archive.Sponsor, error)
	Delete(ctx context.Context, id string) error
	Open(ctx context.Context, id string) (io.ReadCloser, archive.Sponsor, error)
}

// maxSponsorNameField bounds the name field read from the upload form.
const maxSponsorNameField = 1 << 10

// logoCSP is the policy a logo is served with: an SVG opened on its own is
// a document, and this one can run nothing, load nothing, and is sandboxed
// (an opaque origin without script). The upload check (archive.CheckSVG)
// already refuses script; this is the second wall.
const logoCSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"

func (s *sponsorHandlers) register(rt *router) {
	ok := s.sponsors != nil
	rt.handle("GET /admin/sponsors", s.handleAdminSponsors)
	rt.handle("GET /api/sponsors", rt.need(ok, noSponsors, s.handleSponsors))
	rt.handleBody("POST /api/sponsors", archive.DefaultMaxLogo+multipartSlack, rt.need(ok, noSponsors, s.handleSponsorUpload))
	rt.handle("DELETE /api/sponsors/{id}", rt.need(ok, noSponsors, s.handleSponsorDelete))
	rt.handle("GET /sponsors/{id}", rt.need(ok, noSponsors, s.handleSponsorLogo))
}

// sponsorList is every sponsor's name and logo URL, for pages.
func (s *sponsorHandlers) sponsorList() []roomSponsor {
	out := []roomSponsor{}
	if s.sponsors == nil {
		return out
	}
	for _, sp := range s.sponsors.List() {
		out = append(out, roomSponsor{Name: sp.Name, URL: "/sponsors/" + sp.ID})
	}
	return out
}

// sponsorJSON is a sponsor as the API shows it.
type sponsorJSON struct {
	archive.Sponsor
	URL string `json:"url"`
}

func (s *sponsorHandlers) handleSponsors(w http.ResponseWriter, r *http.Request) {
	out := []sponsorJSON{}
	for _, sp := range s.sponsors.List() {
		out = append(out, sponsorJSON{sp, s.url("/sponsors/" + sp.ID)})
	}
	s.writeJSON(w, http.StatusOK, out)
}

// handleSponsorUpload takes POST /api/sponsors (admin): multipart/form-data
// with the sponsor's name in "name" and the logo in "file" (PNG, JPEG or
// SVG, by content; the file's own name is ignored).
func (s *sponsorHandlers) handleSponsorUpload(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close") // refusals do not read the rest
	if !s.requireAdmin(w, r) {
		return
	}
	mr, err := multipartReader(r)
	if err != nil {
		s.jsonError(w, http.StatusUnsupportedMediaType, "send multipart/form-data with the sponsor's name in a field named name and the logo in a field named file")
		return
	}
	name := ""
	for {
		part, err := mr.NextPart()
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.jsonError(w, http.StatusRequestEntityTooLarge, "the logo is larger than 1 MB")
				return
			}
			s.jsonError(w, http.StatusBadRequest, "no field named file in the form: send the logo as file, after the name")
			return
		}
		switch part.FormName() {
		case "name":
			b, err := io.ReadAll(io.LimitReader(part, maxSponsorNameField+1))
			if err != nil || len(b) > maxSponsorNameField {
				s.jsonError(w, http.StatusBadRequest, "the sponsor's name is too long")
				return
			}
			name = strings.TrimSpace(string(b))
		case "file":
			if name == "" {
				s.jsonError(w, http.StatusBadRequest, "send the sponsor's name (field name) before the logo (field file)")
				return
			}
			sp, err := s.sponsors.Add(r.Context(), name, part)
			if err != nil {
				s.sponsorError(w, err)
				return
			}
			w.Header().Del("Connection")
			s.log.Info("sponsor added", "sponsor", sp.ID, "type", sp.Type, "size", sp.Size)
			s.writeJSON(w, http.StatusCreated, sponsorJSON{sp, s.url("/sponsors/" + sp.ID)})
			return
		}
	}
}

func (s *sponsorHandlers) sponsorError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, archive.ErrTooLarge), errors.As(err, &tooBig):
		s.jsonError(w, http.StatusRequestEntityTooLarge, "the logo is larger than 1 MB: export it smaller")
	case errors.Is(err, archive.ErrUnsupportedType):
		s.jsonError(w, http.StatusUnsupportedMediaType, err.Error())
	default:
		s.talkError(w, err)
	}
}

func (s *sponsorHandlers) handleSponsorDelete(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	if err := s.sponsors.Delete(r.Context(), r.PathValue("id")); err != nil {
		s.sponsorError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleSponsorLogo serves a listed logo (public) with its sniffed type,
// nosniff and a CSP that sandboxes it when opened on its own.
func (s *sponsorHandlers) handleSponsorLogo(w http.ResponseWriter, r *http.Request) {
	rc, sp, err := s.sponsors.Open(r.Context(), r.PathValue("id"))
	if err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			s.jsonError(w, http.StatusNotFound, "no such sponsor logo")
			return
		}
		s.log.Warn("sponsor logo read failed", "sponsor", r.PathValue("id"), "error", err)
		s.jsonError(w, http.StatusBadGateway, "the archive storage did not answer; try again shortly")
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", sp.Type)
	h.Set("Content-Security-Policy", logoCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=300")
	io.Copy(w, rc)
}

// handleAdminSponsors is the console's sponsors page: the logos, upload,
// remove.
func (s *sponsorHandlers) handleAdminSponsors(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSessionPage(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "admin_sponsors.html", pageData{
		Title:  s.tr(r).T("console.sponsors.title"),
		Admin:  adminData{CSRF: sess.csrf, Zone: s.zoneName()},
		Extras: extrasData{Room: roomJSON{Sponsors: s.sponsorList()}},
	})
}
