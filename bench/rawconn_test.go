package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestRawConn_get(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Salon-Viewer"); got != "v1" {
			http.Error(w, "viewer header "+got, http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			_, _ = w.Write([]byte("hello"))
		case "/chunked":
			for _, s := range []string{"hel", "lo, ", "world"} {
				_, _ = w.Write([]byte(s))
				w.(http.Flusher).Flush()
			}
		case "/query":
			_, _ = w.Write([]byte(r.URL.RawQuery))
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			http.Error(w, "no such file", http.StatusNotFound)
		}
	}))
	srv.Start()
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	at := func(p string) *url.URL { u, _ := url.Parse(srv.URL + p); return u }
	ctx := context.Background()
	rc := newRawConn(base, "v1")
	defer rc.close()
	buf := make([]byte, 2)

	tests := []struct {
		path     string
		keep     bool
		wantBody string
		wantN    int64
		wantCode int // 0: no error
	}{
		{"/length", true, "hello", 5, 0},
		{"/length", false, "", 5, 0},
		{"/chunked", true, "hello, world", 12, 0},
		{"/chunked", false, "", 12, 0},
		{"/query?_HLS_msn=3&_HLS_part=1", true, "_HLS_msn=3&_HLS_part=1", 22, 0},
		{"/missing", false, "", int64(len("no such file\n")), http.StatusNotFound},
		{"/close", true, "bye", 3, 0},
		{"/length", true, "hello", 5, 0}, // dials again after the close
	}
	for _, tt := range tests {
		body, n, err := rc.get(ctx, at(tt.path), tt.keep, buf, 5*time.Second)
		var se *statusError
		switch {
		case tt.wantCode != 0:
			if !errors.As(err, &se) || se.code != tt.wantCode {
				t.Errorf("GET %s: error %v, want HTTP %d", tt.path, err, tt.wantCode)
			}
		case err != nil:
			t.Errorf("GET %s: %v", tt.path, err)
		case string(body) != tt.wantBody:
			t.Errorf("GET %s: body %q, want %q", tt.path, body, tt.wantBody)
		}
		if n != tt.wantN {
			t.Errorf("GET %s: %d body bytes, want %d", tt.path, n, tt.wantN)
		}
	}

	// A keep-alive connection the server closed meanwhile is dialled again.
	srv.CloseClientConnections()
	if body, _, err := rc.get(ctx, at("/length"), true, buf, 5*time.Second); err != nil || string(body) != "hello" {
		t.Errorf("after the server closed the connection: %q, %v; want hello", body, err)
	}
}
