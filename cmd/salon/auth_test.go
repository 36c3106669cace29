package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salon/salon/archive/slidetest"
)

// routeAuth is who may use a route.
type routeAuth int

const (
	// public: anyone; the refusal test does not send it.
	public routeAuth = iota
	// admin: the organiser's bearer token only.
	admin
	// speaker: the organiser, or the speaker link's token of the talk in
	// the path (Authorization: Bearer).
	speaker
	// speakerLive: the organiser, or the speaker of the talk live on the
	// stage in the path.
	speakerLive
	// speakerPage: the speaker link's token in the query (?token=).
	speakerPage
	// adminPage: a console page, for a console session or the admin
	// bearer token; anyone else gets the login form (401).
	adminPage
	// sessionOnly: the console session only (the events feed: an
	// EventSource cannot send a bearer token).
	sessionOnly
	// logout: ends the console session; with the session it needs the CSRF
	// token like every state change.
	logout
)

// routeCase is one route of web's mux and a request that would change
// something (or reveal something) if the route forgot its check. The test
// fixture (see TestServer_Refusals) has talks "talk" and "other" on stage
// "main", a slide deck.pdf on "talk", speaker links for both, and two
// questions in main's chat, whose ids replace {first} and {second}, and a
// sponsor, whose id replaces {sponsor}.
type routeCase struct {
	auth   routeAuth
	method string
	path   string // with the fixture's ids
	body   string // JSON unless ctype says otherwise
	ctype  string
}

// routes is every pattern registered on web's mux. TestServer_RoutesListed
// fails when web registers a pattern that is not here, so that a new route
// cannot be added without saying who may use it.
var routes = map[string]routeCase{
	"GET /{$}":                                             {auth: public},
	"GET /live/{stage}":                                    {auth: public},
	"GET /live/{stage}/questions":                          {auth: public},
	"GET /live/{stage}/index.m3u8":                         {auth: public},
	"GET /live/{stage}/{file}":                             {auth: public},
	"OPTIONS /live/{stage}/{file}":                         {auth: public},
	"GET /live/{stage}/{rendition}/{file}":                 {auth: public},
	"OPTIONS /live/{stage}/{rendition}/{file}":             {auth: public},
	"GET /api/stages":                                      {auth: public},
	"GET /api/stages/{stage}":                              {auth: public},
	"GET /api/talks":                                       {auth: public},
	"GET /api/talks/{id}":                                  {auth: public},
	"GET /api/programme":                                   {auth: public},
	"GET /archive/{key...}":                                {auth: public},
	"GET /talks/{id}":                                      {auth: public},
	"GET /ws/chat/{stage}":                                 {auth: public},
	"GET /talks/{id}/chat.json":                            {auth: public},
	"GET /talks/{id}/download.mp4":                         {auth: public},
	"GET /talks/{id}/bundle.zip":                           {auth: public},
	"GET /talks/{id}/chapters.vtt":                         {auth: public},
	"GET /schedule.json":                                   {auth: public},
	"GET /schedule.ics":                                    {auth: public},
	"GET /static/{path...}":                                {auth: public},
	"GET /healthz":                                         {auth: public},
	"GET /metrics":                                         {auth: public},
	"/":                                                    {auth: public},
	"POST /api/talks":                                      {auth: admin, method: "POST", path: "/api/talks", body: `{"id":"intruder","title":"Intruder","stage":"main"}`},
	"PATCH /api/talks/{id}":                                {auth: admin, method: "PATCH", path: "/api/talks/talk", body: `{"title":"Hijacked"}`},
	"DELETE /api/talks/{id}":                               {auth: admin, method: "DELETE", path: "/api/talks/other"},
	"POST /api/talks/{id}/start":                           {auth: admin, method: "POST", path: "/api/talks/talk/start"},
	"POST /api/talks/{id}/stop":                            {auth: admin, method: "POST", path: "/api/talks/talk/stop"},
	"PUT /api/stages/{stage}/auto":                         {auth: admin, method: "PUT", path: "/api/stages/main/auto", body: `{"on":true}`},
	"POST /api/stages/{stage}/next":                        {auth: admin, method: "POST", path: "/api/stages/main/next"},
	"GET /api/talks/{id}/chat":                             {auth: admin, method: "GET", path: "/api/talks/talk/chat"},
	"GET /api/stats":                                       {auth: admin, method: "GET", path: "/api/stats"},
	"GET /api/talks/{id}/stats":                            {auth: admin, method: "GET", path: "/api/talks/talk/stats"},
	"POST /api/talks/{id}/speaker-link":                    {auth: admin, method: "POST", path: "/api/talks/talk/speaker-link"},
	"DELETE /api/talks/{id}/speaker-link":                  {auth: admin, method: "DELETE", path: "/api/talks/talk/speaker-link"},
	"PUT /api/schedule":                                    {auth: admin, method: "PUT", path: "/api/schedule", body: `{"talks":[]}`},
	"DELETE /api/stages/{stage}/chat/messages/{id}":        {auth: admin, method: "DELETE", path: "/api/stages/main/chat/messages/{first}"},
	"POST /api/stages/{stage}/chat/messages/{id}/ban":      {auth: admin, method: "POST", path: "/api/stages/main/chat/messages/{second}/ban"},
	"PUT /api/stages/{stage}/chat/slow-mode":               {auth: admin, method: "PUT", path: "/api/stages/main/chat/slow-mode", body: `{"seconds":60}`},
	"POST /api/stages/{stage}/chat/messages/{id}/answered": {auth: speakerLive, method: "POST", path: "/api/stages/main/chat/messages/{second}/answered"},
	"POST /api/talks/{id}/slides":                          {auth: speaker, method: "POST", path: "/api/talks/talk/slides"}, // body: a PDF, see refusalRequest
	"DELETE /api/talks/{id}/slides/{name}":                 {auth: speaker, method: "DELETE", path: "/api/talks/talk/slides/deck.pdf"},
	"POST /api/talks/{id}/slide":                           {auth: speaker, method: "POST", path: "/api/talks/talk/slide", body: `{"page":2}`},
	"PUT /api/talks/{id}/captions/{lang}": {auth: speaker, method: "PUT", path: "/api/talks/talk/captions/en",
		body: "WEBVTT\n\n00:01.000 --> 00:02.000\nintruder\n", ctype: "text/vtt"},
	"DELETE /api/talks/{id}/captions/{lang}":   {auth: speaker, method: "DELETE", path: "/api/talks/talk/captions/en"},
	"GET /api/talks/{id}/captions/{lang}":      {auth: public},
	"POST /api/stages/{stage}/captions":        {auth: speakerLive, method: "POST", path: "/api/stages/main/captions", body: `{"text":"intruder","lang":"en"}`},
	"GET /live/{stage}/captions/{lang}/{file}": {auth: public},
	"GET /api/stages/{stage}/captions":         {auth: public},
	"GET /speak/{id}":                          {auth: speakerPage, method: "GET", path: "/speak/talk"},

	// The organiser's console.
	"GET /admin/login":                        {auth: public},
	"POST /admin/login":                       {auth: public}, // the login itself; its refusals are the console's tests
	"GET /live/{stage}/room":                  {auth: public},
	"GET /live/{stage}/room.json":             {auth: public},
	"GET /live/{stage}/room/qr.png":           {auth: public},
	"GET /api/sponsors":                       {auth: public},
	"GET /sponsors/{id}":                      {auth: public},
	"GET /admin":                              {auth: adminPage, method: "GET", path: "/admin"},
	"GET /admin/{$}":                          {auth: adminPage, method: "GET", path: "/admin/"},
	"GET /admin/talks/{id}":                   {auth: adminPage, method: "GET", path: "/admin/talks/talk"},
	"GET /admin/stages/{stage}/chat":          {auth: adminPage, method: "GET", path: "/admin/stages/main/chat"},
	"GET /admin/sponsors":                     {auth: adminPage, method: "GET", path: "/admin/sponsors"},
	"GET /admin/schedule":                     {auth: adminPage, method: "GET", path: "/admin/schedule"},
	"GET /admin/stats":                        {auth: adminPage, method: "GET", path: "/admin/stats"},
	"GET /admin/events":                       {auth: sessionOnly, method: "GET", path: "/admin/events"},
	"POST /admin/logout":                      {auth: logout, method: "POST", path: "/admin/logout"},
	"GET /api/talks/{id}/speaker-link/qr.png": {auth: admin, method: "GET", path: "/api/talks/talk/speaker-link/qr.png"},
	"GET /archive/talks/{id}/trim.m3u8":       {auth: admin, method: "GET", path: "/archive/talks/talk/trim.m3u8"},
	"PUT /api/stages/{stage}/chat/onscreen":   {auth: admin, method: "PUT", path: "/api/stages/main/chat/onscreen", body: `{"id":"{second}"}`},
	"GET /api/stages/{stage}/chat/moderation": {auth: admin, method: "GET", path: "/api/stages/main/chat/moderation"},
	"POST /api/sponsors":                      {auth: admin, method: "POST", path: "/api/sponsors"}, // body: a logo, see refusalRequest
	"DELETE /api/sponsors/{id}":               {auth: admin, method: "DELETE", path: "/api/sponsors/{sponsor}"},
}

// registeredRoutes reads web's sources for every pattern given to the mux:
// the first argument of handle, handleBody, HandleFunc and Handle. A call
// whose pattern is not a string literal (other than the pass-through inside
// handle and handleBody) fails the test: its route could not be checked.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "..", "web")
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("web sources not found in %s: %v", dir, err)
	}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			passThrough := fn.Recv != nil && (fn.Name.Name == "handle" || fn.Name.Name == "handleBody")
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "handle", "handleBody", "HandleFunc", "Handle":
				default:
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					if !passThrough {
						t.Errorf("%s: %s registers a route whose pattern is not a string literal: list it in routes by hand and teach this test", fset.Position(call.Pos()), sel.Sel.Name)
					}
					return true
				}
				p, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, p)
				return true
			})
		}
	}
	sort.Strings(out)
	return out
}

// TestServer_RoutesListed fails when web's mux has a route that routes does
// not classify, or routes lists one web no longer registers.
func TestServer_RoutesListed(t *testing.T) {
	got := registeredRoutes(t)
	if len(got) < 30 {
		t.Fatalf("found only %d routes in web's sources: the scan is broken: %v", len(got), got)
	}
	seen := map[string]bool{}
	for _, p := range got {
		seen[p] = true
		if _, ok := routes[p]; !ok {
			t.Errorf("web registers %q, which the routes table of auth_test.go does not list: add it with who may use it (and a request for the refusal test)", p)
		}
	}
	for p := range routes {
		if !seen[p] {
			t.Errorf("routes lists %q, which web no longer registers", p)
		}
	}
}

// adminSession logs in to the console with the admin token and returns the
// session cookie (without its CSRF token, which the console page holds):
// with it alone, every state-changing route must answer 403.
func adminSession(t *testing.T, a *app) *http.Cookie {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(a.httpURL("/admin/login"), url.Values{"token": {a.adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "salon_admin" && c.Value != "" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	t.Fatalf("console login: %d without a session cookie", resp.StatusCode)
	return nil
}

// dataState is every file under the app's data directory with its size and
// modification time, one per line: a refused request must write nothing.
func dataState(t *testing.T, a *app) string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(a.cfg.Data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a.cfg.Data, p)
		if d.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		out = append(out, rel+" "+strconv.FormatInt(info.Size(), 10)+" "+info.ModTime().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// refusalRequest builds c's request, with credentials set by auth and the
// fixture's ids put in the path.
func refusalRequest(t *testing.T, a *app, c routeCase, ids *strings.Replacer, auth func(*http.Request)) *http.Request {
	t.Helper()
	var body io.Reader
	ctype := c.ctype
	switch {
	case c.method == "POST" && strings.HasSuffix(c.path, "/slides"):
		pdf := slidetest.PDF(2, "intruder")
		body, ctype, _ = multipartFile("intruder.pdf", bytes.NewReader(pdf), int64(len(pdf)))
	case c.method == "POST" && c.path == "/api/sponsors":
		body, ctype = sponsorForm(t, "Intruder")
	case c.body != "":
		body = strings.NewReader(ids.Replace(c.body))
		if ctype == "" {
			ctype = "application/json"
		}
	}
	req, err := http.NewRequest(c.method, a.httpURL(ids.Replace(c.path)), body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	auth(req)
	return req
}

// TestServer_Refusals sends every admin and speaker route a request without
// credentials, with a wrong token, with a speaker token where the organiser's
// is needed, and with another talk's speaker token where a speaker's is: each
// must be refused (401 or 403, as listed) with nothing written to the bucket
// or the data directory.
func TestServer_Refusals(t *testing.T) {
	a := testApp(t)
	for _, id := range []string{"talk", "other"} {
		if code, m := api(t, a, "POST", "/api/talks", `{"id":"`+id+`","title":"Talk `+id+`","stage":"main"}`); code != 201 {
			t.Fatalf("create %s: %d %v", id, code, m)
		}
	}
	pdf := slidetest.PDF(3, "salon")
	if code, m, _ := uploadSlides(t, a.httpURL("/api/talks/talk/slides"), a.adminToken, "deck.pdf", bytes.NewReader(pdf), int64(len(pdf)), uploadOpts{}); code != 201 {
		t.Fatalf("upload: %d %v", code, m)
	}
	tok, _ := speakerLink(t, a, "talk")
	otherTok, _ := speakerLink(t, a, "other")
	session := adminSession(t, a)
	ids := strings.NewReplacer("{first}", chatQuestion(t, a, "main", "first question"), "{second}", chatQuestion(t, a, "main", "second question"),
		"{sponsor}", addSponsor(t, a, "Sponsor"))
	// The chat journal is written in batches: wait for both questions in it
	// before taking the data directory's state.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(journals(t, a), "second question"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the questions never reached the chat journal")
		}
	}

	bucket, data := bucketState(t, a), dataState(t, a)
	if !strings.Contains(bucket, "talks/talk/") {
		t.Fatalf("the fixture is not in the bucket:\n%s", bucket)
	}
	bearerTok := func(tok string) func(*http.Request) {
		return func(r *http.Request) {
			if tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
		}
	}
	queryTok := func(tok string) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			q.Set("token", tok)
			r.URL.RawQuery = q.Encode()
		}
	}
	type attempt struct {
		name string
		auth func(*http.Request)
		want []int
	}
	checked := 0
	for _, pattern := range sortedKeys(routes) {
		c := routes[pattern]
		var attempts []attempt
		switch c.auth {
		case public:
			continue
		case admin:
			attempts = []attempt{
				{"no credentials", bearerTok(""), []int{401, 403}},
				{"wrong bearer token", bearerTok("not-the-admin-token-xxxxxxxx"), []int{401}},
				{"speaker token", bearerTok(tok), []int{401, 403}},
				{"basic auth with the admin token", func(r *http.Request) { r.SetBasicAuth("admin", a.adminToken) }, []int{401, 403}},
			}
		case speaker, speakerLive:
			attempts = []attempt{
				{"no credentials", bearerTok(""), []int{401, 403}},
				{"wrong bearer token", bearerTok("not-a-speaker-token-xxxxxxxx"), []int{401}},
				{"other talk's speaker token", bearerTok(otherTok), []int{403}},
			}
		case speakerPage:
			attempts = []attempt{
				{"no credentials", func(*http.Request) {}, []int{401, 403}},
				{"wrong token", queryTok("not-a-speaker-token-xxxxxxxx"), []int{401}},
				{"other talk's speaker token", queryTok(otherTok), []int{403}},
				{"admin token in a header", bearerTok(a.adminToken), []int{401, 403}},
			}
		case adminPage:
			attempts = []attempt{
				{"no credentials", bearerTok(""), []int{401}},
				{"wrong bearer token", bearerTok("not-the-admin-token-xxxxxxxx"), []int{401}},
				{"speaker token", bearerTok(tok), []int{401}},
				{"unknown session cookie", withCookie(&http.Cookie{Name: session.Name, Value: "not-a-session-xxxxxxxx"}), []int{401}},
			}
		case sessionOnly:
			attempts = []attempt{
				{"no credentials", bearerTok(""), []int{401}},
				{"the admin bearer token", bearerTok(a.adminToken), []int{401}},
				{"unknown session cookie", withCookie(&http.Cookie{Name: session.Name, Value: "not-a-session-xxxxxxxx"}), []int{401}},
			}
		}
		if c.method != "GET" && c.method != "" {
			attempts = append(attempts,
				attempt{"cookie session without CSRF token", withCookie(session), []int{403}},
				attempt{"cookie session with a wrong CSRF token", func(r *http.Request) {
					r.AddCookie(session)
					r.Header.Set("X-CSRF-Token", "not-the-csrf-token-xxxxxxxx")
				}, []int{403}},
			)
		}
		for _, at := range attempts {
			t.Run(pattern+"/"+at.name, func(t *testing.T) {
				checked++
				resp, err := http.DefaultClient.Do(refusalRequest(t, a, c, ids, at.auth))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ok := false
				for _, w := range at.want {
					ok = ok || resp.StatusCode == w
				}
				if !ok {
					t.Errorf("%s %s: status %d %s, want one of %v", c.method, c.path, resp.StatusCode, b, at.want)
				}
				// An API's 401 says how to authenticate (the console's
				// pages answer with their login form instead).
				if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" && (c.auth == admin || c.auth == speaker || c.auth == speakerLive) {
					t.Errorf("401 without WWW-Authenticate")
				}
				// On a change, the next request is compared with the new
				// state, so that each failure names its own route.
				if got := bucketState(t, a); got != bucket {
					t.Errorf("the bucket changed:\nbefore\n%s\nafter\n%s", bucket, got)
					bucket = got
				}
				if got := dataState(t, a); got != data {
					t.Errorf("the data directory changed:\nbefore\n%s\nafter\n%s", data, got)
					data = got
				}
			})
		}
	}
	if checked < 60 {
		t.Fatalf("only %d refusals checked", checked)
	}
	// The same requests with the right credentials get past the checks: the
	// refusals came from the checks, not from a broken fixture. Speakers
	// first (the organiser's requests revoke their link and delete talks).
	if code, m := apiURL(t, a.httpURL("/api/talks/talk/slides/deck.pdf"), tok, "DELETE", ""); code != 204 {
		t.Fatalf("the speaker's own slide delete: %d %v", code, m)
	}
	allowed := func(pattern string, auth func(*http.Request)) {
		t.Helper()
		resp, err := http.DefaultClient.Do(refusalRequest(t, a, routes[pattern], ids, auth))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// (deck.pdf is gone by then: the speaker deleted it above.)
		// (The captions' delete comes before their upload: nothing to delete yet.)
		if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 404 && pattern != "DELETE /api/talks/{id}/slides/{name}" &&
			pattern != "DELETE /api/talks/{id}/captions/{lang}" {
			t.Errorf("%s with the right credentials: %d %s", pattern, resp.StatusCode, b)
		}
	}
	for _, pattern := range sortedKeys(routes) {
		switch routes[pattern].auth {
		case speaker:
			allowed(pattern, bearerTok(tok))
		case speakerPage:
			allowed(pattern, queryTok(tok))
		}
	}
	// Reads first, then changes in an order where none undoes the next one's
	// fixture (the ban and the deletes come last).
	order := map[string]int{"GET": 0, "PUT": 1, "PATCH": 2, "POST": 3, "DELETE": 4}
	organiser := sortedKeys(routes)
	slices.SortStableFunc(organiser, func(x, y string) int { return order[routes[x].method] - order[routes[y].method] })
	for _, pattern := range organiser {
		switch routes[pattern].auth {
		case admin, speakerLive, adminPage:
			allowed(pattern, bearerTok(a.adminToken))
		}
	}
	// GET /admin/events with the session streams until the client leaves:
	// its status is enough.
	req, _ := http.NewRequest("GET", a.httpURL("/admin/events"), nil)
	req.AddCookie(session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /admin/events with the session: %d", resp.StatusCode)
	}
}

func withCookie(c *http.Cookie) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(c) }
}

// sponsorForm is a sponsor upload's multipart body: a name and a PNG logo.
func sponsorForm(t *testing.T, name string) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.WriteField("name", name); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", "logo.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(slidetest.PNG)
	mw.Close()
	return &b, mw.FormDataContentType()
}

// addSponsor adds a sponsor as the organiser and returns its id.
func addSponsor(t *testing.T, a *app, name string) string {
	t.Helper()
	body, ctype := sponsorForm(t, name)
	req, _ := http.NewRequest("POST", a.httpURL("/api/sponsors"), body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+a.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	id, _ := m["id"].(string)
	if resp.StatusCode != 201 || id == "" {
		t.Fatalf("add sponsor: %d %v", resp.StatusCode, m)
	}
	return id
}

// chatQuestion posts a question to the stage's chat and returns its id.
func chatQuestion(t *testing.T, a *app, stage, text string) string {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/"+stage, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wsRead(t, c, "welcome")
	if err := c.WriteJSON(map[string]string{"type": "question", "text": text}); err != nil {
		t.Fatal(err)
	}
	for {
		m := wsRead(t, c, "chat")
		if m["text"] == text {
			id, _ := m["id"].(string)
			if id == "" {
				t.Fatalf("chat frame without an id: %v", m)
			}
			return id
		}
	}
}

// journals is the content of every chat journal under the data directory.
func journals(t *testing.T, a *app) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(a.cfg.Data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
