package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The organiser console's sessions: the admin token is given once on
// /admin/login and exchanged for a session cookie. Every state-changing
// request made with the cookie carries the session's CSRF token in the
// X-CSRF-Token header (or, for the plain HTML forms, a csrf form field).
// Scripts keep using Authorization: Bearer ADMIN_TOKEN.
//
// A session is a signed value, not a row in a table: its expiry and a
// random nonce, with an HMAC under a key derived from the admin token. Every
// node of a deployment has the same -admin-token, so a console logged in on
// one node works on all of them behind a load balancer (with no state
// shared), and changing the admin token ends every session.
const (
	// sessionCookie is the console's cookie name (stable: console pages of
	// other branches read it through requireAdmin only).
	sessionCookie = "salon_admin"
	// csrfHeader carries the session's CSRF token on state changes.
	csrfHeader = "X-CSRF-Token"
	// csrfField is the same token in a form body (logout, plain forms).
	csrfField = "csrf"
	// sessionTTL is how long a console session lasts: a day at the venue.
	sessionTTL = 12 * time.Hour
	// maxEnded bounds the table of sessions logged out before they expire.
	maxEnded = 1000

	// loginFailures failed logins from one address within loginWindow
	// make it wait until the window ends.
	loginFailures = 5
	loginWindow   = 10 * time.Minute
	// maxLoginAddrs bounds the rate limiter's table.
	maxLoginAddrs = 10_000
)

// session is one logged-in console.
type session struct {
	csrf    string
	expires time.Time
}

// sessions signs and checks console sessions and counts failed logins.
// mu guards both maps.
type sessions struct {
	ipad, opad [sha256.BlockSize]byte // the HMAC key (from the admin token), padded
	mu         sync.Mutex
	ended      map[[sha256.Size]byte]time.Time // a logged-out session's MAC → its expiry
	failures   map[string]*loginFailure        // remote address → recent failures
}

type loginFailure struct {
	count int
	first time.Time
}

// sessionPayload is a session id's signed part: expiry (Unix seconds,
// big-endian) and a random nonce. The id is the payload and its MAC, in
// unpadded base64url; the CSRF token is the MAC of the payload under
// another label.
const (
	sessionPayload = 8 + 16
	sessionIDLen   = ((sessionPayload+sha256.Size)*8 + 5) / 6 // 75: 56 bytes in unpadded base64
	labelID        = 'i'
	labelCSRF      = 'c'
)

func newSessions(adminToken string) *sessions {
	secret := adminToken
	if secret == "" { // no organiser: a key nobody knows, so no session is valid
		secret = randomToken()
	}
	key := sha256.Sum256([]byte("salon console session\x00" + secret))
	ss := &sessions{ended: map[[sha256.Size]byte]time.Time{}, failures: map[string]*loginFailure{}}
	for i := range ss.ipad {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		ss.ipad[i], ss.opad[i] = k^0x36, k^0x5c
	}
	return ss
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b)
}

// mac is HMAC-SHA256 (RFC 2104) of label and payload, computed on the stack:
// the connection reserve checks a session on every request it holds
// (Server.organiser), where crypto/hmac's allocations would show.
func (ss *sessions) mac(label byte, payload *[sessionPayload]byte) [sha256.Size]byte {
	var in [sha256.BlockSize + 1 + sessionPayload]byte
	copy(in[:], ss.ipad[:])
	in[sha256.BlockSize] = label
	copy(in[sha256.BlockSize+1:], payload[:])
	inner := sha256.Sum256(in[:])
	var out [sha256.BlockSize + sha256.Size]byte
	copy(out[:], ss.opad[:])
	copy(out[sha256.BlockSize:], inner[:])
	return sha256.Sum256(out[:])
}

// create starts a session and returns its id and CSRF token.
func (ss *sessions) create(now time.Time) (id, csrf string) {
	var b [sessionPayload + sha256.Size]byte
	payload := (*[sessionPayload]byte)(b[:sessionPayload])
	binary.BigEndian.PutUint64(payload[:], uint64(now.Add(sessionTTL).Unix()))
	rand.Read(payload[8:])
	m := ss.mac(labelID, payload)
	copy(b[sessionPayload:], m[:])
	c := ss.mac(labelCSRF, payload)
	return base64.RawURLEncoding.EncodeToString(b[:]), base64.RawURLEncoding.EncodeToString(c[:])
}

// check verifies id: signed by this deployment's key, not expired, not
// logged out here. It returns the signed payload and the id's MAC.
func (ss *sessions) check(id string, now time.Time) (payload [sessionPayload]byte, m [sha256.Size]byte, expires time.Time, ok bool) {
	var b [sessionPayload + sha256.Size]byte
	if len(id) != sessionIDLen {
		return payload, m, expires, false
	}
	if n, err := base64.RawURLEncoding.Decode(b[:], []byte(id)); err != nil || n != len(b) {
		return payload, m, expires, false
	}
	copy(payload[:], b[:sessionPayload])
	m = ss.mac(labelID, &payload)
	if !hmac.Equal(b[sessionPayload:], m[:]) {
		return payload, m, expires, false
	}
	expires = time.Unix(int64(binary.BigEndian.Uint64(payload[:])), 0)
	if !now.Before(expires) {
		return payload, m, expires, false
	}
	ss.mu.Lock()
	_, ended := ss.ended[m]
	ss.mu.Unlock()
	return payload, m, expires, !ended
}

// valid reports whether id is a live session.
func (ss *sessions) valid(id string, now time.Time) bool {
	_, _, _, ok := ss.check(id, now)
	return ok
}

// get is the live session with id, if any.
func (ss *sessions) get(id string, now time.Time) (session, bool) {
	payload, _, expires, ok := ss.check(id, now)
	if !ok {
		return session{}, false
	}
	c := ss.mac(labelCSRF, &payload)
	return session{csrf: base64.RawURLEncoding.EncodeToString(c[:]), expires: expires}, true
}

// end logs the session out on this node. (Its cookie is cleared too; a
// copy of it kept elsewhere works on other nodes until it expires.)
func (ss *sessions) end(id string) {
	now := time.Now()
	_, m, expires, ok := ss.check(id, now)
	if !ok {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.ended) >= maxEnded {
		var oldest [sha256.Size]byte
		var at time.Time
		for k, exp := range ss.ended {
			if now.After(exp) {
				delete(ss.ended, k)
			} else if at.IsZero() || exp.Before(at) {
				oldest, at = k, exp
			}
		}
		if len(ss.ended) >= maxEnded {
			delete(ss.ended, oldest)
		}
	}
	ss.ended[m] = expires
}

// loginBlocked tells how long addr must wait before trying again (0: it
// may try now).
func (ss *sessions) loginBlocked(addr string, now time.Time) time.Duration {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := ss.failures[addr]
	if f == nil || f.count < loginFailures {
		return 0
	}
	if wait := f.first.Add(loginWindow).Sub(now); wait > 0 {
		return wait
	}
	delete(ss.failures, addr)
	return 0
}

// loginFailed counts a failed login from addr.
func (ss *sessions) loginFailed(addr string, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := ss.failures[addr]
	if f != nil && now.Sub(f.first) > loginWindow {
		f = nil
	}
	if f == nil {
		if len(ss.failures) >= maxLoginAddrs {
			for a, x := range ss.failures {
				if now.Sub(x.first) > loginWindow {
					delete(ss.failures, a)
				}
			}
			if len(ss.failures) >= maxLoginAddrs {
				return // full of fresh failures: the per-address limit still holds for those
			}
		}
		f = &loginFailure{first: now}
		ss.failures[addr] = f
	}
	f.count++
}

// loginSucceeded forgets addr's failures.
func (ss *sessions) loginSucceeded(addr string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.failures, addr)
}

// remoteHost is the request's remote address without the port.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// adminSession is the request's live console session, if its cookie names one.
func (s *auth) adminSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	return s.sessions.get(c.Value, time.Now())
}

// stateChanging tells whether a request may change something (and so must
// carry the CSRF token when it is authorised by the session cookie).
func stateChanging(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// sameOrigin refuses a request whose Origin header names another site. A
// request without Origin (old browsers, curl) passes: the CSRF token is the
// real check; this is a second one that costs nothing.
func (s *auth) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if p, err := url.Parse(s.publicURL); err == nil && p.Host != "" && strings.EqualFold(u.Host, p.Host) {
		return true
	}
	return false
}

// requireAdmin lets the organiser through: a request with the admin token
// as a bearer token (scripts), or one with a console session cookie — whose
// state changes must also carry the session's CSRF token. Otherwise it
// answers 401 or 403 with a JSON error and returns false.
func (s *auth) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	if used, ok := s.sessionAdmin(w, r); used {
		return ok
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="salon"`)
		s.resp.jsonError(w, http.StatusUnauthorized, "admin token required: log in at /admin, or send Authorization: Bearer ADMIN_TOKEN (salon prints it at start)")
		return false
	}
	if !s.isAdmin(tok) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="salon", error="invalid_token"`)
		s.resp.jsonError(w, http.StatusUnauthorized, "wrong admin token")
		return false
	}
	return true
}

// sessionAdmin authorises a request by its console session when it has no
// Authorization header and a live session cookie (used). A state change
// must carry the session's CSRF token and come from this site; when it does
// not, sessionAdmin answers 403 and ok is false.
func (s *auth) sessionAdmin(w http.ResponseWriter, r *http.Request) (used, ok bool) {
	if r.Header.Get("Authorization") != "" {
		return false, false
	}
	sess, live := s.adminSession(r)
	if !live {
		return false, false
	}
	if !stateChanging(r) {
		return true, true
	}
	tok := r.Header.Get(csrfHeader)
	if tok == "" {
		s.resp.jsonError(w, http.StatusForbidden, "the console's CSRF token is missing: reload /admin and try again")
		return true, false
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(sess.csrf)) != 1 || !s.sameOrigin(r) {
		s.resp.jsonError(w, http.StatusForbidden, "the console's CSRF token does not match this session: reload /admin and try again")
		return true, false
	}
	return true, true
}

// secureRequest tells whether the browser reached us over TLS (directly:
// Server.TLS, HTTP/2 or HTTP/1.1, or through the proxy PublicURL names), so
// the cookie gets Secure.
func (s *auth) secureRequest(r *http.Request) bool {
	return s.tls || r.TLS != nil || strings.HasPrefix(s.publicURL, "https://")
}

func (s *auth) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secureRequest(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// handleLogin takes the admin token from the login form (never from the
// URL) and starts a session.
func (s *consoleHandlers) handleLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	addr := remoteHost(r)
	now := time.Now()
	if wait := s.sessions.loginBlocked(addr, now); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.renderLogin(w, r, http.StatusTooManyRequests, "login.tooMany", "Minutes", waitMinutes(wait))
		return
	}
	if !s.sameOrigin(r) {
		s.renderLogin(w, r, http.StatusForbidden, "login.otherSite")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, "login.unreadable")
		return
	}
	if r.URL.Query().Has("token") {
		// A token in the URL ends up in logs and histories: refuse it.
		s.renderLogin(w, r, http.StatusBadRequest, "login.tokenInURL")
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if tok == "" {
		s.renderLogin(w, r, http.StatusBadRequest, "login.empty")
		return
	}
	if !s.isAdmin(tok) {
		s.sessions.loginFailed(addr, now)
		s.log.Warn("console login refused: wrong token", "remote", addr)
		s.renderLogin(w, r, http.StatusUnauthorized, "login.wrong")
		return
	}
	s.sessions.loginSucceeded(addr)
	id, _ := s.sessions.create(now)
	http.SetCookie(w, s.sessionCookie(r, id, int(sessionTTL.Seconds())))
	s.log.Info("console login", "remote", addr)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// handleLogout ends the session. It is a state change, so it needs the
// CSRF token (a form field here: the button is a plain form).
func (s *consoleHandlers) handleLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c, err := r.Cookie(sessionCookie)
	sess, ok := s.adminSession(r)
	if err != nil || !ok {
		http.SetCookie(w, s.sessionCookie(r, "", -1))
		s.renderLogin(w, r, http.StatusOK, "login.loggedOut")
		return
	}
	tok := r.Header.Get(csrfHeader)
	if tok == "" {
		if err := r.ParseForm(); err == nil {
			tok = r.PostForm.Get(csrfField)
		}
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(sess.csrf)) != 1 || !s.sameOrigin(r) {
		s.pageError(w, r, http.StatusForbidden, "err.logout", "err.logout.help")
		return
	}
	s.sessions.end(c.Value)
	http.SetCookie(w, s.sessionCookie(r, "", -1))
	s.log.Info("console logout", "remote", remoteHost(r))
	s.renderLogin(w, r, http.StatusOK, "login.loggedOut")
}

// requireSessionPage lets a console page through with a session (or the
// bearer token, for scripts that fetch a page); otherwise it shows the login
// form and returns false.
func (s *auth) requireSessionPage(w http.ResponseWriter, r *http.Request) (session, bool) {
	if sess, ok := s.adminSession(r); ok {
		return sess, true
	}
	if s.isAdmin(bearer(r)) {
		return session{}, true
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderLogin(w, r, http.StatusUnauthorized, "")
	return session{}, false
}

// renderLogin is the login form with the message msg (a catalog key; ""
// for none; kv fills its placeholders).
func (s *auth) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string, kv ...any) {
	l := s.page.tr(r)
	if msg != "" {
		msg = l.T(msg, kv...)
	}
	s.page.render(w, r, status, "admin_login.html", pageData{Title: l.T("login.title"), Message: msg, Status: status,
		Admin: adminData{Console: true}})
}

// waitMinutes is a login block's wait in whole minutes, at least 1.
func waitMinutes(d time.Duration) int {
	return max(1, int(d.Round(time.Minute).Minutes()))
}
