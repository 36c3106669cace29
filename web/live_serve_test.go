package web

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestServeBytes(t *testing.T) {
	data := []byte("0123456789abcdef")
	tests := []struct {
		name     string
		method   string
		header   map[string]string
		wantCode int
		wantBody string
		wantN    int64
	}{
		{"plain GET", http.MethodGet, nil, http.StatusOK, string(data), int64(len(data))},
		{"range", http.MethodGet, map[string]string{"Range": "bytes=2-5"}, http.StatusPartialContent, "2345", 4},
		{"HEAD", http.MethodHead, nil, http.StatusOK, "", 0},
		{"if-range without etag", http.MethodGet, map[string]string{"Range": "bytes=0-1", "If-Range": `"x"`}, http.StatusOK, string(data), int64(len(data))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/live/main/1.0.m4s", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			n := serveBytes(w, r, data)
			if w.Code != tt.wantCode {
				t.Errorf("status %d, want %d", w.Code, tt.wantCode)
			}
			if got := w.Body.String(); got != tt.wantBody {
				t.Errorf("body %q, want %q", got, tt.wantBody)
			}
			if n != tt.wantN {
				t.Errorf("counted %d bytes, want %d", n, tt.wantN)
			}
			if tt.wantCode == http.StatusOK {
				if got := w.Header().Get("Content-Length"); got != strconv.Itoa(len(data)) {
					t.Errorf("Content-Length %q, want %d", got, len(data))
				}
				if got := w.Header().Get("Accept-Ranges"); got != "bytes" {
					t.Errorf("Accept-Ranges %q, want bytes", got)
				}
			}
		})
	}
}
