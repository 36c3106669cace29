package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/salon/salon/ingest/stream"
)

func TestServer_Pages(t *testing.T) {
	live, stages := newFakes()
	stages.stages = append(stages.stages, stream.StageInfo{Name: "zz-live", Live: true})
	s, base := startServer(t, live, stages)

	t.Run("home", func(t *testing.T) {
		res := do(t, "GET", base+"/", nil)
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d type %q", res.status, res.header.Get("Content-Type"))
		}
		iMain, iZZ, iAttic := strings.Index(res.body, `href="/live/main"`), strings.Index(res.body, `href="/live/zz-live"`), strings.Index(res.body, `href="/live/attic"`)
		if iMain < 0 || iZZ < 0 || iAttic < 0 || !(iMain < iZZ && iZZ < iAttic) {
			t.Errorf("want live stages (main, zz-live) before attic; positions %d %d %d", iMain, iZZ, iAttic)
		}
		if !strings.Contains(res.body, "H264 1280×720 30 fps · AAC 48 kHz stereo · 2.6 Mbit/s") {
			t.Errorf("home lacks the track line")
		}
	})

	t.Run("live page", func(t *testing.T) {
		res := do(t, "GET", base+"/live/main", nil)
		if res.status != 200 {
			t.Fatalf("status %d", res.status)
		}
		csp := res.header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "media-src 'self' blob:", "worker-src 'self' blob:"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		for _, want := range []string{`data-stage="main"`, `data-playlist="/live/main/index.m3u8"`, "/static/js/live.js?v="} {
			if !strings.Contains(res.body, want) {
				t.Errorf("live page lacks %q", want)
			}
		}
		if s.assets.hasHLS && !strings.Contains(res.body, "/static/"+hlsAsset) {
			t.Errorf("live page lacks the hls.js script")
		}
		if !s.assets.hasHLS && !strings.Contains(res.body, "run go generate ./web") {
			t.Errorf("live page without hls.js does not say how to fix it")
		}
		for _, bad := range []string{"<script>", " onclick=", " onload=", " style="} {
			if strings.Contains(res.body, bad) {
				t.Errorf("live page has inline code %q", bad)
			}
		}
	})

	t.Run("live page of a stage not yet published", func(t *testing.T) {
		res := do(t, "GET", base+"/live/later", nil)
		want := "waiting for the stream"
		if !s.assets.hasHLS {
			want = "run go generate ./web"
		}
		if res.status != 200 || !strings.Contains(res.body, want) {
			t.Errorf("status %d, want 200 and %q", res.status, want)
		}
	})

	t.Run("invalid stage page", func(t *testing.T) {
		res := do(t, "GET", base+"/live/Bad_Stage", nil)
		if res.status != 404 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
			t.Errorf("status %d type %q, want 404 HTML", res.status, res.header.Get("Content-Type"))
		}
	})

	t.Run("unknown page", func(t *testing.T) {
		res := do(t, "GET", base+"/nowhere", nil)
		if res.status != 404 || !strings.Contains(res.body, "Page not found") {
			t.Errorf("status %d, want the 404 page", res.status)
		}
	})
}

// A stage name from the URL only reaches the page as text.
func TestServer_LivePageEscapes(t *testing.T) {
	live, stages := newFakes()
	stages.stages = append(stages.stages, stream.StageInfo{Name: "main", Live: true, Warnings: []stream.Warning{stream.Warn("transcode.restarting", "Exit", `<img src=x onerror=alert(1)>`)}})
	s, _ := startServer(t, live, stages)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/live/main", nil))
	if strings.Contains(rec.Body.String(), "<img src=x") {
		t.Errorf("warning rendered as HTML")
	}
}

func TestServer_Static(t *testing.T) {
	live, stages := newFakes()
	s, base := startServer(t, live, stages)
	css := s.assets.files["css/salon.css"]

	tests := []struct {
		name   string
		path   string
		header map[string]string
		status int
		ctype  string
		cache  string
	}{
		{"fingerprinted", "/static/css/salon.css?v=" + css.hash, nil, 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"stale fingerprint", "/static/css/salon.css?v=old", nil, 200, "text/css; charset=utf-8", "no-cache"},
		{"plain", "/static/css/salon.css", nil, 200, "text/css; charset=utf-8", "no-cache"},
		{"revalidate", "/static/css/salon.css", map[string]string{"If-None-Match": `"` + css.hash + `"`, "Accept-Encoding": "identity"}, 304, "", ""},
		{"revalidate gzip", "/static/css/salon.css", map[string]string{"If-None-Match": `"` + css.hash + `-gz"`, "Accept-Encoding": "gzip"}, 304, "", ""},
		{"script", "/static/js/live.js", nil, 200, "text/javascript; charset=utf-8", "no-cache"},
		{"missing", "/static/nope.js", nil, 404, "", ""},
		{"traversal", "/static/../server.go", nil, 404, "", ""},
	}
	if s.assets.hasHLS {
		tests = append(tests, struct {
			name   string
			path   string
			header map[string]string
			status int
			ctype  string
			cache  string
		}{"vendored hls.js", "/static/" + hlsAsset, nil, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, "GET", base+tt.path, tt.header)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d", res.status, tt.status)
			}
			if tt.ctype != "" && res.header.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", res.header.Get("Content-Type"), tt.ctype)
			}
			if tt.cache != "" && res.header.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", res.header.Get("Cache-Control"), tt.cache)
			}
		})
	}
}

// FuzzServer_LivePath checks that whatever the path, File is only ever asked
// for a valid stage and a valid file name, and unknown input is a 404.
func FuzzServer_LivePath(f *testing.F) {
	for _, seed := range [][2]string{
		{"main", "index.m3u8"}, {"main", "init-1.mp4"}, {"main", "7.m4s"},
		{"Main", "index.m3u8"}, {"main", "../x"}, {"main", "index.m3u8x"},
		{"..", "index.m3u8"}, {"main", "%2e%2e"}, {"main", "1.m4s\x00"}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	live, stages := newFakes()
	s, _ := startServer(f, live, stages)
	f.Fuzz(func(t *testing.T, stage, file string) {
		target := "/live/" + url.PathEscape(stage) + "/" + url.PathEscape(file)
		req, err := http.NewRequest("GET", target, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		for _, c := range live.takeCalls() {
			st, name, _ := strings.Cut(c, "/")
			if !stream.ValidStage(st) || !liveNameRE.MatchString(name) {
				t.Fatalf("File(%q, %q) called for %s", st, name, target)
			}
		}
		if rec.Code == http.StatusOK && !(stage == "main" && liveNameRE.MatchString(file)) {
			t.Fatalf("%s answered 200", target)
		}
	})
}

// FuzzClassifyFile checks classifyFile against the grammar of live names.
func FuzzClassifyFile(f *testing.F) {
	for _, s := range []string{"index.m3u8", "init-1.mp4", "0.m4s", "../x", "index.m3u8x", "init-.mp4", strings.Repeat("1", 30) + ".m4s", "3.12.m4s", "3.1234567.m4s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		valid := classifyFile(name) != kindInvalid
		if valid != liveNameRE.MatchString(name) {
			t.Fatalf("classifyFile(%q) valid=%v, grammar says %v", name, valid, !valid)
		}
	})
}
