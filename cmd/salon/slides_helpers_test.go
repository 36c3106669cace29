package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// multipartFile is a multipart/form-data body with one part "file" holding
// size bytes of data, streamed (never held whole), and its exact length.
func multipartFile(name string, data io.Reader, size int64) (body io.Reader, contentType string, length int64) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.CreateFormFile("file", name)
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	return io.MultiReader(bytes.NewReader(head.Bytes()), data, strings.NewReader(tail)),
		mw.FormDataContentType(), int64(head.Len()) + size + int64(len(tail))
}

// uploadOpts tunes uploadSlides.
type uploadOpts struct {
	chunked bool // no Content-Length: the server learns the size only by reading
}

// uploadSlides posts a slide file as a speaker (or the organiser, with the
// admin token) would. It returns the status, the JSON answer and how many
// bytes of the body the client sent.
func uploadSlides(t testing.TB, url, token, name string, data io.Reader, size int64, o uploadOpts) (int, map[string]any, int64) {
	t.Helper()
	body, ctype, length := multipartFile(name, data, size)
	cr := &countingReader{r: body}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, io.NopCloser(cr))
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if !o.chunked {
		req.ContentLength = length
		req.Header.Set("Expect", "100-continue")
	}
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, m, cr.n
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// patternReader gives n bytes quickly, starting with a PDF header, so that a
// big upload passes the type check; the rest is not zeros, so that nothing
// on the way can compress it.
type patternReader struct {
	n, off int64
	x      uint64
}

func newDeck(n int64) *patternReader { return &patternReader{n: n, x: 0x9e3779b97f4a7c15} }

const deckHeader = "%PDF-1.7\n%salon test deck\n"

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	i := 0
	for ; p.off < int64(len(deckHeader)) && i < len(b); i++ {
		b[i] = deckHeader[p.off]
		p.off++
	}
	for ; i < len(b); i++ {
		p.x ^= p.x << 13
		p.x ^= p.x >> 7
		p.x ^= p.x << 17
		b[i] = byte(p.x)
		p.off++
	}
	return len(b), nil
}

// bucketState is every talks/ key of the app's archive with its ETag, one
// per line: a refused request must leave it exactly as it was.
func bucketState(t testing.TB, a *app) string {
	t.Helper()
	objs, err := a.store.List(context.Background(), "talks/")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key+" "+o.ETag)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
