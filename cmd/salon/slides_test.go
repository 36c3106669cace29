package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive/slidetest"
	"github.com/salon/salon/archive/storetest"
)

// minioBucket is a fresh bucket on a real MinIO for a test salon, with what
// a test needs to look into the bucket directly.
type minioBucket struct {
	endpoint, key, secret, bucket string
}

func newMinioBucket(t testing.TB) minioBucket {
	endpoint, key, secret, _, _ := storetest.MinIO(t)
	return minioBucket{endpoint, key, secret, fmt.Sprintf("salon-%d", time.Now().UnixNano())}
}

func (m minioBucket) config(c *Config) {
	c.Archive = "s3:http://" + m.endpoint + "/" + m.bucket
	c.AWSAccessKey, c.AWSSecretKey = m.key, m.secret
}

func speakerLink(t *testing.T, a *app, id string) (token, url string) {
	t.Helper()
	code, m := api(t, a, "POST", "/api/talks/"+id+"/speaker-link", "")
	if code != 201 {
		t.Fatalf("speaker link for %s: %d %v", id, code, m)
	}
	token, _ = m["token"].(string)
	url, _ = m["url"].(string)
	return token, url
}

// TestSlides_API drives the slides API of a salon on a real MinIO: what a
// speaker and the organiser may do, and every refusal the issue lists, each
// with nothing written to the bucket.
func TestSlides_API(t *testing.T) {
	mb := newMinioBucket(t)
	a := testApp(t, mb.config)
	for _, id := range []string{"talk", "other", "ended"} {
		if code, m := api(t, a, "POST", "/api/talks", `{"id":"`+id+`","title":"Talk `+id+`","stage":"`+id+`"}`); code != 201 {
			t.Fatalf("create %s: %d %v", id, code, m)
		}
	}
	tok, link := speakerLink(t, a, "talk")
	otherTok, _ := speakerLink(t, a, "other")
	if len(tok) < 22 || !strings.HasSuffix(link, "/speak/talk?token="+tok) || !strings.HasPrefix(link, "http://"+a.web.Addr()) {
		t.Fatalf("speaker link %q, token %q", link, tok)
	}
	api(t, a, "POST", "/api/talks/ended/start", "")
	time.Sleep(10 * time.Millisecond)
	if code, m := api(t, a, "POST", "/api/talks/ended/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	// A token that was replaced, and one that was revoked.
	oldTok, _ := speakerLink(t, a, "other")
	otherTok, oldTok = oldTok, otherTok
	revoked, _ := speakerLink(t, a, "ended")
	if code, m := api(t, a, "DELETE", "/api/talks/ended/speaker-link", ""); code != 204 {
		t.Fatalf("revoke: %d %v", code, m)
	}

	uploadURL := a.httpURL("/api/talks/talk/slides")
	pdf := slidetest.PDF(3, "salon")
	before := bucketState(t, a)

	refusals := []struct {
		name     string
		url      string
		token    string
		file     string
		data     []byte
		size     int64 // when data is nil: a generated deck of this size
		chunked  bool
		want     int
		errorHas string
	}{
		{name: "no token", token: "", file: "deck.pdf", data: pdf, want: 401, errorHas: "token required"},
		{name: "wrong token", token: "not-a-token-at-all-xxxxxxxxxxx", file: "deck.pdf", data: pdf, want: 401, errorHas: "not valid"},
		{name: "other talk's token", token: otherTok, file: "deck.pdf", data: pdf, want: 403, errorHas: "another talk"},
		{name: "replaced token", token: oldTok, file: "deck.pdf", data: pdf, want: 401},
		{name: "revoked token", token: revoked, url: a.httpURL("/api/talks/ended/slides"), file: "deck.pdf", data: pdf, want: 401},
		{name: "png named pdf", token: tok, file: "deck.pdf", data: slidetest.PNG, want: 415, errorHas: "not a PDF"},
		{name: "word file", token: tok, file: "deck.pptx", data: slidetest.DOCX(), want: 415},
		{name: "empty file", token: tok, file: "deck.pdf", data: []byte{}, want: 400, errorHas: "empty"},
		{name: "path in name", token: tok, file: "../../talks/other/talk.json", data: pdf, want: 400, errorHas: "without folders"},
		{name: "201 MB, Content-Length", token: tok, file: "big.pdf", size: 201 << 20, want: 413, errorHas: "200 MB"},
		{name: "201 MB, chunked", token: tok, file: "big.pdf", size: 201 << 20, chunked: true, want: 413, errorHas: "200 MB"},
		{name: "missing talk", token: a.adminToken, url: a.httpURL("/api/talks/nope/slides"), file: "deck.pdf", data: pdf, want: 404},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			url := c.url
			if url == "" {
				url = uploadURL
			}
			var data io.Reader = bytes.NewReader(c.data)
			size := int64(len(c.data))
			if c.data == nil {
				data, size = newDeck(c.size), c.size
			}
			code, m, sent := uploadSlides(t, url, c.token, c.file, data, size, uploadOpts{chunked: c.chunked})
			if code != c.want {
				t.Fatalf("status %d %v, want %d", code, m, c.want)
			}
			if msg, _ := m["error"].(string); !strings.Contains(msg, c.errorHas) {
				t.Fatalf("error %q, want it to mention %q", msg, c.errorHas)
			}
			if c.size > 0 && !c.chunked && sent > c.size/2 {
				t.Errorf("the client sent %d of %d bytes before the 413: the body was read", sent, c.size)
			}
			if got := bucketState(t, a); got != before {
				t.Fatalf("the bucket changed:\nbefore\n%s\nafter\n%s", before, got)
			}
		})
	}
	if n := storetest.IncompleteUploads(t, mb.endpoint, mb.key, mb.secret, mb.bucket); n != 0 {
		t.Fatalf("%d incomplete multipart uploads left in the bucket", n)
	}

	// Not multipart at all.
	if code, m := apiURL(t, uploadURL, tok, "POST", `{"file":"x"}`); code != 415 {
		t.Fatalf("JSON body: %d %v, want 415", code, m)
	}

	// The speaker uploads; the file is stored as sent and listed in talk.json.
	code, m, _ := uploadSlides(t, uploadURL, tok, "Vortrag über Ströme.pdf", bytes.NewReader(pdf), int64(len(pdf)), uploadOpts{})
	if code != 201 || m["name"] != "Vortrag über Ströme.pdf" || m["size"] != float64(len(pdf)) {
		t.Fatalf("upload: %d %v", code, m)
	}
	fileURL, _ := m["url"].(string)
	status, body, hdr := get(t, a.httpURL(strings.TrimPrefix(fileURL, "http://"+a.web.Addr())))
	if status != 200 || !bytes.Equal(body, pdf) || hdr.Get("Content-Type") != "application/pdf" {
		t.Fatalf("GET %s: %d, %d bytes, %s", fileURL, status, len(body), hdr.Get("Content-Type"))
	}
	sum := sha256.Sum256(pdf)
	_, talk := api(t, a, "GET", "/api/talks/talk", "")
	slides, _ := talk["slides"].([]any)
	if len(slides) != 1 {
		t.Fatalf("talk.slides = %v", talk["slides"])
	}
	s0 := slides[0].(map[string]any)
	if s0["sha256"] != hex.EncodeToString(sum[:]) || s0["type"] != "application/pdf" || s0["uploaded_at"] == nil {
		t.Fatalf("listed slide %v", s0)
	}
	// The token's hash is nowhere public.
	for _, p := range []string{"/archive/talks/talk/speaker.json", "/archive/talks/talk/talk.json", "/api/talks/talk", "/api/talks"} {
		code, b, _ := get(t, a.httpURL(p))
		if strings.Contains(string(b), "token") || strings.Contains(string(b), tok) {
			t.Errorf("GET %s (%d) shows the token or its hash: %s", p, code, b)
		}
		if strings.HasSuffix(p, "speaker.json") && code != 404 {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}

	// The organiser uploads a PowerPoint file to the same talk.
	if code, m, _ := uploadSlides(t, uploadURL, a.adminToken, "deck.pptx", bytes.NewReader(slidetest.PPTX()), int64(len(slidetest.PPTX())), uploadOpts{}); code != 201 {
		t.Fatalf("admin upload: %d %v", code, m)
	}
	// After the talk ended the speaker may change nothing; the organiser may.
	endedTok, _ := speakerLink(t, a, "ended")
	endedURL := a.httpURL("/api/talks/ended/slides")
	if code, m, _ := uploadSlides(t, endedURL, endedTok, "late.pdf", bytes.NewReader(pdf), int64(len(pdf)), uploadOpts{}); code != 403 || !strings.Contains(fmt.Sprint(m["error"]), "ended") {
		t.Fatalf("speaker upload after the end: %d %v, want 403", code, m)
	}
	if code, m, _ := uploadSlides(t, endedURL, a.adminToken, "late.pdf", bytes.NewReader(pdf), int64(len(pdf)), uploadOpts{}); code != 201 {
		t.Fatalf("admin upload after the end: %d %v", code, m)
	}
	if code, m := apiURL(t, a.httpURL("/api/talks/ended/slides/late.pdf"), endedTok, "DELETE", ""); code != 403 {
		t.Fatalf("speaker delete after the end: %d %v, want 403", code, m)
	}

	// Delete: another talk's speaker may not, this one's may.
	del := a.httpURL("/api/talks/talk/slides/deck.pptx")
	if code, _ := apiURL(t, del, otherTok, "DELETE", ""); code != 403 {
		t.Fatalf("delete with another talk's token: %d, want 403", code)
	}
	if code, m := apiURL(t, del, tok, "DELETE", ""); code != 204 {
		t.Fatalf("delete: %d %v", code, m)
	}
	if code, _ := apiURL(t, del, tok, "DELETE", ""); code != 404 {
		t.Fatalf("second delete: %d, want 404", code)
	}
	if _, err := a.store.Stat(t.Context(), "talks/talk/slides/deck.pptx"); err == nil {
		t.Fatal("the deleted file is still in the bucket")
	}

	// A fresh salon on the same bucket: slides and the speaker link are back.
	a.Close()
	b := testApp(t, mb.config)
	_, talk = api(t, b, "GET", "/api/talks/talk", "")
	if s, _ := talk["slides"].([]any); len(s) != 1 {
		t.Fatalf("after restart talk.slides = %v", talk["slides"])
	}
	if code, m, _ := uploadSlides(t, b.httpURL("/api/talks/talk/slides"), tok, "again.pdf", bytes.NewReader(pdf), int64(len(pdf)), uploadOpts{}); code != 201 {
		t.Fatalf("the speaker link does not survive a restart: %d %v", code, m)
	}
	if code, _, _ := uploadSlides(t, b.httpURL("/api/talks/talk/slides"), oldTok, "again.pdf", bytes.NewReader(pdf), int64(len(pdf)), uploadOpts{}); code != 401 {
		t.Fatalf("a replaced token works after a restart: %d", code)
	}
}

// TestSlides_SpeakPage: the speaker page opens with the right token only.
func TestSlides_SpeakPage(t *testing.T) {
	a := testApp(t, func(c *Config) { c.Timezone = "Asia/Shanghai" }) // the page shows times in the event's zone
	api(t, a, "POST", "/api/talks", `{"id":"a","title":"Talk <A>","stage":"main","starts_at":"2026-11-25T10:00:00Z"}`)
	api(t, a, "POST", "/api/talks", `{"id":"b","title":"Talk B","stage":"main"}`)
	tok, link := speakerLink(t, a, "a")
	tokB, _ := speakerLink(t, a, "b")
	code, body, hdr := get(t, link)
	if code != 200 || !strings.Contains(string(body), "Talk &lt;A&gt;") || !strings.Contains(string(body), "Wed 25 Nov, 18:00") {
		t.Fatalf("speaker page: %d\n%s", code, body)
	}
	if hdr.Get("Referrer-Policy") != "no-referrer" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("speaker page headers: %v", hdr)
	}
	if strings.Contains(string(body), tok) {
		t.Fatal("the page repeats the token")
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{"/speak/a", 401},
		{"/speak/a?token=wrong", 401},
		{"/speak/a?token=" + tokB, 403},
		{"/speak/nope?token=" + tok, 404},
	} {
		if code, _, _ := get(t, a.httpURL(c.path)); code != c.want {
			t.Errorf("GET %s = %d, want %d", c.path, code, c.want)
		}
	}
}
