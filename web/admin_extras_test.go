package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/skip2/go-qrcode"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/chat"
)

// extrasT0 is when the test stage's recording starts.
var extrasT0 = time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)

// extrasEnv is a server over a real talk library and sponsors on a
// DirStore, with one stage run of 60 two-second segments and one ended
// talk ("ended", 20 s to 100 s into the run).
type extrasEnv struct {
	s     *Server
	base  string
	store *archive.DirStore
	lib   *archive.Library
}

func startExtras(t *testing.T) *extrasEnv {
	t.Helper()
	store := &archive.DirStore{Root: t.TempDir()}
	if err := store.Initialize(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	writeTestRun(t, store, "main", extrasT0, 60, 2*time.Second)
	lib := &archive.Library{Store: store, Log: slog.New(slog.DiscardHandler)}
	if err := lib.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	sp := &archive.Sponsors{Store: store, MaxSize: 64 << 10}
	if err := sp.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Create(ctx, archive.Talk{ID: "ended", Title: "零拷贝回放 Zero-copy replays", Stage: "main",
		Speakers: []archive.Speaker{{Name: "李雷"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Start(ctx, "ended", extrasT0.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Stop(ctx, "ended", extrasT0.Add(100*time.Second)); err != nil {
		t.Fatal(err)
	}
	rooms := &chat.Rooms{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	if err := rooms.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rooms.Close)
	live, stages := newFakes()
	reg := prometheus.NewRegistry()
	s := &Server{
		Address: "127.0.0.1:0", Live: live, Stages: stages, Metrics: reg, Gatherer: reg,
		Log: slog.New(slog.DiscardHandler), Talks: lib, Slides: lib, Archive: store, Sponsors: sp,
		AdminToken: testAdmin, Chat: rooms,
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &extrasEnv{s: s, base: "http://" + s.Addr(), store: store, lib: lib}
}

// hub opens the stage's chat room and returns its hub.
func (e *extrasEnv) hub(t *testing.T, stage string) *chat.Hub {
	t.Helper()
	var hub *chat.Hub
	if err := e.s.Chat.Use(stage, func(h *chat.Hub) { hub = h }); err != nil {
		t.Fatal(err)
	}
	return hub
}

// writeTestRun writes a run in the bucket's contract format: init, n tiny
// segments and the run's VOD playlist with EXT-X-PROGRAM-DATE-TIME.
func writeTestRun(t *testing.T, store archive.Store, stage string, start time.Time, n int, dur time.Duration) {
	t.Helper()
	prefix := "stages/" + stage + "/" + start.UTC().Format("20060102T150405Z") + "/"
	put := func(key string, data []byte) {
		if err := store.Put(context.Background(), prefix+key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	var pl bytes.Buffer
	fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init-0.mp4\"\n", int(dur.Seconds()))
	put("init-0.mp4", []byte("init"))
	for i := range n {
		put(fmt.Sprintf("%d.m4s", i), []byte("segment"))
		fmt.Fprintf(&pl, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%.3f,\n%d.m4s\n", start.Add(time.Duration(i)*dur).UTC().Format(chat.TimeLayout), dur.Seconds(), i)
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	put("index.m3u8", pl.Bytes())
}

// snapshotStore is every object's key → ETag and modification time.
func snapshotStore(t *testing.T, s archive.Store) map[string]string {
	t.Helper()
	objs, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, o := range objs {
		m[o.Key] = o.ETag + " " + o.ModTime.String()
	}
	return m
}

func changedObjects(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if a[k] != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// multipartBody builds a form with the fields in order.
func multipartBody(t *testing.T, fields ...[2]string) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		var w io.Writer
		var err error
		if f[0] == "file" {
			w, err = mw.CreateFormFile("file", "../../logo.svg")
		} else {
			w, err = mw.CreateFormField(f[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f[1])
	}
	mw.Close()
	return b.String(), mw.FormDataContentType()
}

// TestServer_ExtrasRefuseWithoutAdmin: every console page and action of
// this file is refused without the admin token (or with a wrong one), and
// the refusals change nothing in the bucket.
func TestServer_ExtrasRefuseWithoutAdmin(t *testing.T) {
	e := startExtras(t)
	e.hub(t, "main")
	form, ctype := multipartBody(t, [2]string{"name", "Acme"}, [2]string{"file", "\x89PNG\r\n\x1a\nxx"})
	routes := []struct{ method, path, ctype, body string }{
		{"GET", "/admin/talks/ended", "", ""},
		{"GET", "/api/talks/ended/speaker-link/qr.png", "", ""},
		{"GET", "/archive/talks/ended/trim.m3u8", "", ""},
		{"GET", "/admin/stages/main/chat", "", ""},
		{"PUT", "/api/stages/main/chat/onscreen", "application/json", `{"id":null}`},
		{"GET", "/api/stages/main/chat/moderation", "", ""},
		{"GET", "/admin/sponsors", "", ""},
		{"POST", "/api/sponsors", ctype, form},
		{"DELETE", "/api/sponsors/acme-00000000.png", "", ""},
		{"PATCH", "/api/talks/ended", "application/json", `{"hidden":true}`},
		{"PATCH", "/api/talks/ended", "application/json", `{"recording":{"start":"2026-12-05T02:00:30Z","end":"2026-12-05T02:01:00Z"}}`},
	}
	before := snapshotStore(t, e.store)
	for _, rt := range routes {
		for _, tok := range []string{"", "wrong-token"} {
			t.Run(rt.method+" "+rt.path+" "+tok, func(t *testing.T) {
				res := send(t, rt.method, e.base+rt.path, tok, rt.ctype, rt.body)
				if res.status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", res.status, res.body)
				}
				if strings.Contains(res.body, "零拷贝") || strings.Contains(res.body, "#EXTM3U") {
					t.Fatalf("a refusal leaked the talk: %s", res.body)
				}
			})
		}
	}
	if ch := changedObjects(before, snapshotStore(t, e.store)); len(ch) != 0 {
		t.Fatalf("refused requests changed %v", ch)
	}
	if _, ok := e.s.speakerLinks.get("ended"); ok {
		t.Fatal("a speaker link appeared")
	}
}

// TestServer_AdminPages renders each console page with the admin token.
func TestServer_AdminPages(t *testing.T) {
	e := startExtras(t)
	auth := map[string]string{"Authorization": "Bearer " + testAdmin}
	for _, tc := range []struct{ path, want string }{
		{"/admin/talks/ended", "零拷贝回放"},
		{"/admin/talks/ended", "trim-in"},
		{"/admin/stages/main/chat", "Chat &amp; questions · stage main"},
		{"/admin/sponsors", "Add a sponsor"},
		{"/live/main/room", "Scan to ask and vote"},
	} {
		res := do(t, "GET", e.base+tc.path, auth)
		if res.status != 200 || !strings.Contains(res.body, tc.want) {
			t.Errorf("GET %s: %d, want 200 with %q:\n%.400s", tc.path, res.status, tc.want, res.body)
		}
	}
	for _, path := range []string{"/admin/talks/nope", "/admin/talks/NOPE", "/admin/stages/Bad!/chat"} {
		if res := do(t, "GET", e.base+path, auth); res.status != 404 {
			t.Errorf("GET %s: %d, want 404", path, res.status)
		}
	}
}

func TestServer_ChatOnScreen(t *testing.T) {
	e := startExtras(t)
	h := e.hub(t, "main")
	// A question, posted by a viewer over the websocket.
	url := strings.Replace(e.base, "http", "ws", 1) + "/ws/chat/main"
	c := dialChat(t, url)
	c.send(map[string]string{"type": "question", "text": "屏幕上的问题？"})
	q := c.until("chat")
	c.send(map[string]string{"type": "chat", "text": "just chat"})
	plain := c.until("chat")
	qid, _ := q["id"].(string)
	path := e.base + "/api/stages/main/chat/onscreen"
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{}`, 400},
		{`{"id":""}`, 400},
		{`{"id":5}`, 400},
		{`{"id":"x","extra":1}`, 400},
		{`not json`, 400},
		{`{"id":"nope"}`, 404},
		{`{"id":"` + plain["id"].(string) + `"}`, 404},
	} {
		if res := send(t, "PUT", path, testAdmin, "application/json", tc.body); res.status != tc.want {
			t.Errorf("PUT %s: %d, want %d: %s", tc.body, res.status, tc.want, res.body)
		}
		if _, ok := h.OnScreen(); ok {
			t.Fatalf("PUT %s put something on screen", tc.body)
		}
	}
	if res := send(t, "PUT", e.base+"/api/stages/Bad!/chat/onscreen", testAdmin, "application/json", `{"id":null}`); res.status != 404 {
		t.Errorf("a bad stage name: %d", res.status)
	}
	if res := send(t, "PUT", path, testAdmin, "application/json", `{"id":"`+qid+`"}`); res.status != 200 {
		t.Fatalf("put on screen: %d %s", res.status, res.body)
	}
	if f := c.until("onscreen"); f["id"] != qid {
		t.Fatalf("onscreen frame %v", f)
	}
	res := send(t, "GET", e.base+"/api/stages/main/chat/moderation", testAdmin, "", "")
	var mod chatModeration
	if err := json.Unmarshal([]byte(res.body), &mod); err != nil || mod.OnScreen == nil || *mod.OnScreen != qid {
		t.Fatalf("moderation %s %v", res.body, err)
	}
	if res := send(t, "PUT", path, testAdmin, "application/json", `{"id":null}`); res.status != 200 {
		t.Fatalf("take off screen: %d %s", res.status, res.body)
	}
	if f := c.until("onscreen"); f["id"] != nil {
		t.Fatalf("onscreen frame after null: %v", f)
	}
}

func TestServer_SpeakerQR(t *testing.T) {
	e := startExtras(t)
	qr := e.base + "/api/talks/ended/speaker-link/qr.png"
	if res := send(t, "GET", qr, testAdmin, "", ""); res.status != 404 || !strings.Contains(res.body, "make a new one") {
		t.Fatalf("QR before any link: %d %s", res.status, res.body)
	}
	if res := send(t, "GET", e.base+"/api/talks/nope/speaker-link/qr.png", testAdmin, "", ""); res.status != 404 {
		t.Fatalf("QR of an unknown talk: %d", res.status)
	}
	res := send(t, "POST", e.base+"/api/talks/ended/speaker-link", testAdmin, "", "")
	var link speakerLinkJSON
	if err := json.Unmarshal([]byte(res.body), &link); err != nil || res.status != 201 {
		t.Fatalf("make link: %d %s", res.status, res.body)
	}
	got := send(t, "GET", qr, testAdmin, "", "")
	want, err := qrcode.Encode(link.URL, qrcode.Medium, 512)
	if err != nil {
		t.Fatal(err)
	}
	if got.status != 200 || got.header.Get("Content-Type") != "image/png" || got.body != string(want) {
		t.Fatalf("QR: %d %s, %d bytes; want the PNG of %s", got.status, got.header.Get("Content-Type"), len(got.body), link.URL)
	}
	if cc := got.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("QR Cache-Control %q", cc)
	}
	// The console page shows the link to copy.
	if page := send(t, "GET", e.base+"/admin/talks/ended", testAdmin, "", ""); !strings.Contains(page.body, link.Token) {
		t.Error("the talk page does not show the current link")
	}
	if res := send(t, "DELETE", e.base+"/api/talks/ended/speaker-link", testAdmin, "", ""); res.status != 204 {
		t.Fatalf("revoke: %d", res.status)
	}
	if res := send(t, "GET", qr, testAdmin, "", ""); res.status != 404 {
		t.Fatalf("QR after revoke: %d", res.status)
	}
}

// TestServer_Trim: the console's trim is a PATCH of the recording window:
// the talk's playlist is rewritten, no stages/ object is, and a bad window
// changes nothing.
func TestServer_Trim(t *testing.T) {
	e := startExtras(t)
	playlist := func() string {
		return do(t, "GET", e.base+"/archive/talks/ended/index.m3u8", nil).body
	}
	before := playlist()
	if n := strings.Count(before, ".m4s"); n != 40 {
		t.Fatalf("the cut has %d segments, want 40:\n%s", n, before)
	}
	// The trim player sees 5 minutes around the talk: here the whole run.
	preview := send(t, "GET", e.base+"/archive/talks/ended/trim.m3u8", testAdmin, "", "")
	if preview.status != 200 || strings.Count(preview.body, ".m4s") != 60 || !strings.Contains(preview.body, "../../stages/main/") {
		t.Fatalf("trim preview: %d\n%s", preview.status, preview.body)
	}

	snap := snapshotStore(t, e.store)
	for _, bad := range []string{
		`{"recording":{"start":"2026-12-05T02:01:00Z","end":"2026-12-05T02:00:30Z"}}`,
		`{"recording":{"end":"2026-12-05T02:00:30Z"}}`,
		`{"recording":{"start":"yesterday"}}`,
		`{"hidden":"yes"}`,
	} {
		if res := send(t, "PATCH", e.base+"/api/talks/ended", testAdmin, "application/json", bad); res.status != 400 {
			t.Errorf("PATCH %s: %d, want 400: %s", bad, res.status, res.body)
		}
	}
	if ch := changedObjects(snap, snapshotStore(t, e.store)); len(ch) != 0 {
		t.Fatalf("refused trims changed %v", ch)
	}

	res := send(t, "PATCH", e.base+"/api/talks/ended", testAdmin, "application/json",
		`{"recording":{"start":"2026-12-05T02:00:30Z","end":"2026-12-05T02:01:10Z"}}`)
	if res.status != 200 {
		t.Fatalf("trim: %d %s", res.status, res.body)
	}
	after := playlist()
	if after == before || strings.Count(after, ".m4s") != 20 || !strings.Contains(after, "#EXT-X-ENDLIST") {
		t.Fatalf("after the trim the cut has %d segments, want 20:\n%s", strings.Count(after, ".m4s"), after)
	}
	ch := changedObjects(snap, snapshotStore(t, e.store))
	if strings.Join(ch, " ") != "talks/ended/index.m3u8 talks/ended/talk.json" {
		t.Fatalf("the trim changed %v; want the playlist and talk.json only", ch)
	}
	for _, k := range ch {
		if strings.HasPrefix(k, "stages/") {
			t.Fatalf("the trim rewrote %s", k)
		}
	}
}

func TestServer_HiddenTalk(t *testing.T) {
	e := startExtras(t)
	if res := send(t, "PATCH", e.base+"/api/talks/ended", testAdmin, "application/json", `{"hidden":true}`); res.status != 200 || !strings.Contains(res.body, `"hidden":true`) {
		t.Fatalf("hide: %d %s", res.status, res.body)
	}
	// The public sees nothing of it.
	for _, path := range []string{"/api/talks/ended", "/talks/ended", "/talks/ended/chat.json", "/talks/ended/download.mp4",
		"/archive/talks/ended/index.m3u8", "/archive/talks/ended/talk.json"} {
		if res := do(t, "GET", e.base+path, nil); res.status != 404 {
			t.Errorf("GET %s while hidden: %d, want 404", path, res.status)
		}
	}
	for _, path := range []string{"/api/talks", "/"} {
		if res := do(t, "GET", e.base+path, nil); res.status != 200 || strings.Contains(res.body, "零拷贝") {
			t.Errorf("GET %s while hidden: %d, lists the talk", path, res.status)
		}
	}
	// The organiser still does.
	auth := map[string]string{"Authorization": "Bearer " + testAdmin}
	for _, path := range []string{"/api/talks", "/api/talks/ended", "/talks/ended", "/archive/talks/ended/index.m3u8"} {
		if res := do(t, "GET", e.base+path, auth); res.status != 200 {
			t.Errorf("admin GET %s while hidden: %d", path, res.status)
		}
	}
	// talk.json keeps it across a restart of the library.
	lib2 := &archive.Library{Store: e.store}
	if err := lib2.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	if tk, err := lib2.Get("ended"); err != nil || !tk.Hidden {
		t.Fatalf("reloaded: %+v %v", tk, err)
	}
	if res := send(t, "PATCH", e.base+"/api/talks/ended", testAdmin, "application/json", `{"hidden":false}`); res.status != 200 {
		t.Fatalf("publish: %d", res.status)
	}
	if res := do(t, "GET", e.base+"/api/talks", nil); !strings.Contains(res.body, "零拷贝") {
		t.Error("published talk not listed")
	}
}

// chatConn is a test viewer of a stage's chat.
type chatConn struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialChat(t *testing.T, url string) *chatConn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial chat: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &chatConn{t: t, conn: conn}
	c.until("welcome")
	return c
}

func (c *chatConn) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// until reads frames until one of type typ.
func (c *chatConn) until(typ string) map[string]any {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		var f map[string]any
		if err := c.conn.ReadJSON(&f); err != nil {
			c.t.Fatalf("waiting for a %s frame: %v", typ, err)
		}
		if f["type"] == typ {
			return f
		}
	}
}

// TestServer_ExtrasSession: with the console's session cookie, the pages
// open and carry the CSRF token; every state change of this file is refused
// without the token (403, nothing changed) and accepted with it.
func TestServer_ExtrasSession(t *testing.T) {
	e := startExtras(t)
	h := e.hub(t, "main")
	c := dialChat(t, strings.Replace(e.base, "http", "ws", 1)+"/ws/chat/main")
	c.send(map[string]string{"type": "question", "text": "Session?"})
	qid := c.until("chat")["id"].(string)
	cookie, csrf := login(t, e.base)
	for _, path := range []string{"/admin/talks/ended", "/admin/stages/main/chat", "/admin/sponsors"} {
		r := request(t, "GET", e.base+path, cookie, nil, "")
		if r.status != 200 || !strings.Contains(r.body, `<meta name="csrf-token" content="`+csrf+`">`) {
			t.Fatalf("GET %s with the session: %d, CSRF meta missing", path, r.status)
		}
	}
	form, ctype := multipartBody(t, [2]string{"name", "Acme"}, [2]string{"file", testLogoSVG})
	changes := []struct {
		method, path, ctype, body string
		want                      int
	}{
		{"PUT", "/api/stages/main/chat/onscreen", "application/json", `{"id":"` + qid + `"}`, 200},
		{"PATCH", "/api/talks/ended", "application/json", `{"hidden":true}`, 200},
		{"PATCH", "/api/talks/ended", "application/json", `{"recording":{"start":"2026-12-05T02:00:30Z","end":"2026-12-05T02:01:00Z"}}`, 200},
		{"POST", "/api/sponsors", ctype, form, 201},
		{"POST", "/api/talks/ended/speaker-link", "", "", 201},
	}
	before := snapshotStore(t, e.store)
	for _, ch := range changes {
		for _, tok := range []string{"", "not-the-token"} {
			hdr := map[string]string{"Content-Type": ch.ctype}
			if tok != "" {
				hdr["X-CSRF-Token"] = tok
			}
			if r := request(t, ch.method, e.base+ch.path, cookie, hdr, ch.body); r.status != http.StatusForbidden {
				t.Errorf("%s %s with CSRF %q: %d, want 403", ch.method, ch.path, tok, r.status)
			}
		}
	}
	if d := changedObjects(before, snapshotStore(t, e.store)); len(d) != 0 {
		t.Fatalf("refused changes changed %v", d)
	}
	if _, ok := h.OnScreen(); ok {
		t.Fatal("a refused change put a question on screen")
	}
	for _, ch := range changes {
		hdr := map[string]string{"Content-Type": ch.ctype, "X-CSRF-Token": csrf}
		if r := request(t, ch.method, e.base+ch.path, cookie, hdr, ch.body); r.status != ch.want {
			t.Errorf("%s %s with the CSRF token: %d, want %d: %s", ch.method, ch.path, r.status, ch.want, r.body)
		}
	}
	if m, ok := h.OnScreen(); !ok || m.ID != qid {
		t.Fatal("the question is not on screen")
	}
	// The QR of the link just made is an image for the session too (GET).
	if r := request(t, "GET", e.base+"/api/talks/ended/speaker-link/qr.png", cookie, nil, ""); r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR with the session: %d", r.status)
	}
}
