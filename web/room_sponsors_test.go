package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/salon/salon/archive"
)

const testLogoSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#c00"/></svg>`

func TestServer_Sponsors(t *testing.T) {
	e := startExtras(t)
	post := func(fields ...[2]string) response {
		body, ctype := multipartBody(t, fields...)
		return send(t, "POST", e.base+"/api/sponsors", testAdmin, ctype, body)
	}
	snap := snapshotStore(t, e.store)
	for _, tc := range []struct {
		name   string
		fields [][2]string
		want   int
	}{
		{"no name", [][2]string{{"file", testLogoSVG}}, 400},
		{"blank name", [][2]string{{"name", "  "}, {"file", testLogoSVG}}, 400},
		{"no file", [][2]string{{"name", "Acme"}}, 400},
		{"script in svg", [][2]string{{"name", "Evil"}, {"file", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`}}, 415},
		{"html", [][2]string{{"name", "Evil"}, {"file", `<html><body onload="alert(1)"><svg/></body></html>`}}, 415},
		{"gif", [][2]string{{"name", "Old"}, {"file", "GIF89a\x01\x00"}}, 415},
		{"too big", [][2]string{{"name", "Big"}, {"file", "\x89PNG\r\n\x1a\n" + strings.Repeat("x", 70<<10)}}, 413},
		{"control in name", [][2]string{{"name", "a\x07b"}, {"file", testLogoSVG}}, 400},
	} {
		if res := post(tc.fields...); res.status != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, res.status, tc.want, res.body)
		}
	}
	if res := send(t, "POST", e.base+"/api/sponsors", testAdmin, "application/json", `{}`); res.status != 415 {
		t.Errorf("not multipart: %d", res.status)
	}
	if ch := changedObjects(snap, snapshotStore(t, e.store)); len(ch) != 0 {
		t.Fatalf("refused uploads changed %v", ch)
	}

	res := post([2]string{"name", "清华大学 <b>"}, [2]string{"file", testLogoSVG})
	var sp sponsorJSON
	if err := json.Unmarshal([]byte(res.body), &sp); err != nil || res.status != 201 {
		t.Fatalf("upload: %d %s", res.status, res.body)
	}
	if strings.Contains(sp.ID, "/") || strings.Contains(sp.ID, "logo") || !strings.HasSuffix(sp.ID, ".svg") {
		t.Fatalf("the id %q comes from the user's file name", sp.ID)
	}
	logo := do(t, "GET", e.base+"/sponsors/"+sp.ID, nil)
	if logo.status != 200 || logo.body != testLogoSVG || logo.header.Get("Content-Type") != "image/svg+xml" ||
		!strings.Contains(logo.header.Get("Content-Security-Policy"), "sandbox") || logo.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("logo: %d %v", logo.status, logo.header)
	}
	if a := do(t, "GET", e.base+"/archive/sponsors/"+sp.ID, nil); !strings.Contains(a.header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("/archive serves the logo without the sandbox: %v", a.header)
	}
	if res := do(t, "GET", e.base+"/sponsors/..%2Ftalks%2Fended%2Ftalk.json", nil); res.status != 404 {
		t.Errorf("a path outside the sponsors: %d", res.status)
	}
	list := do(t, "GET", e.base+"/api/sponsors", nil)
	if !strings.Contains(list.body, sp.ID) {
		t.Fatalf("list: %s", list.body)
	}
	// Shown on the room screen and the live page between talks, escaped.
	for _, path := range []string{"/live/main/room", "/live/main", "/live/main/room.json"} {
		res := do(t, "GET", e.base+path, nil)
		if !strings.Contains(res.body, "/sponsors/"+sp.ID) || strings.Contains(res.body, "<b>") {
			t.Errorf("GET %s: the logo is missing or its name unescaped", path)
		}
	}
	if res := send(t, "DELETE", e.base+"/api/sponsors/"+sp.ID, testAdmin, "", ""); res.status != 204 {
		t.Fatalf("delete: %d", res.status)
	}
	if res := send(t, "DELETE", e.base+"/api/sponsors/"+sp.ID, testAdmin, "", ""); res.status != 404 {
		t.Fatalf("delete again: %d", res.status)
	}
	if res := do(t, "GET", e.base+"/sponsors/"+sp.ID, nil); res.status != 404 {
		t.Fatalf("deleted logo: %d", res.status)
	}
}

func TestServer_Room(t *testing.T) {
	e := startExtras(t)
	ctx := t.Context()
	soon := time.Now().Add(time.Hour).Truncate(time.Minute)
	for _, tk := range []archive.Talk{
		{ID: "now", Title: "现在的演讲", Stage: "main"},
		{ID: "next", Title: "下一个", Stage: "main", StartsAt: soon, EndsAt: soon.Add(30 * time.Minute)},
		{ID: "later", Title: "Later", Stage: "main", StartsAt: soon.Add(time.Hour)},
		{ID: "secret", Title: "Hidden", Stage: "main", StartsAt: soon.Add(-time.Minute), Hidden: true},
		{ID: "elsewhere", Title: "Other room", Stage: "side", StartsAt: soon.Add(-2 * time.Minute)},
	} {
		if _, err := e.lib.Create(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	room := func() roomJSON {
		var r roomJSON
		res := do(t, "GET", e.base+"/live/main/room.json", nil)
		if err := json.Unmarshal([]byte(res.body), &r); err != nil {
			t.Fatalf("%d %s", res.status, res.body)
		}
		return r
	}
	r := room()
	if r.Now != nil || r.Next == nil || r.Next.ID != "next" || !strings.HasSuffix(r.JoinURL, "/live/main") {
		t.Fatalf("between talks: %+v", r)
	}
	qr := do(t, "GET", e.base+"/live/main/room/qr.png?for=anything", nil)
	want, _ := qrcode.Encode(r.JoinURL, qrcode.Medium, 640)
	if qr.status != 200 || qr.body != string(want) {
		t.Fatalf("room QR between talks: %d, not the QR of %s", qr.status, r.JoinURL)
	}
	if _, err := e.lib.Start(ctx, "now", time.Time{}); err != nil {
		t.Fatal(err)
	}
	r = room()
	if r.Now == nil || r.Now.ID != "now" || r.Now.Title != "现在的演讲" || r.Next == nil || r.Next.ID != "next" || !strings.HasSuffix(r.JoinURL, "/talks/now") {
		t.Fatalf("during a talk: %+v", r)
	}
	qr = do(t, "GET", e.base+"/live/main/room/qr.png", nil)
	want, _ = qrcode.Encode(r.JoinURL, qrcode.Medium, 640)
	if qr.body != string(want) {
		t.Fatal("room QR during a talk is not the talk page's")
	}
	if res := do(t, "GET", e.base+"/live/Bad!/room.json", nil); res.status != 404 {
		t.Errorf("bad stage: %d", res.status)
	}
	if page := do(t, "GET", e.base+"/live/main/room", nil); page.status != 200 || !strings.Contains(page.body, "现在的演讲") {
		t.Errorf("room page: %d", page.status)
	}
}
