package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salon/salon/archive/storetest"
)

// TestProgramme_KilledAfterStop: salon is killed with SIGKILL right after it
// acknowledged a talk's stop. The end-of-talk work was spooled before the
// 200, so after a restart on the same data directory and bucket the talk's
// chat.jsonl, its slide track and its final cut are in the bucket.
func TestProgramme_KilledAfterStop(t *testing.T) {
	needTools(t, "ffmpeg")
	endpoint, key, secret, _, _ := storetest.MinIO(t)
	data := t.TempDir()
	httpAddr, rtspAddr := freePort(t), freePort(t)
	args := []string{"-http", httpAddr, "-rtsp", rtspAddr, "-rtmp", "", "-data", data,
		"-archive", fmt.Sprintf("s3:http://%s/killed-%d", endpoint, time.Now().UnixNano()),
		"-admin-token", "test-admin-token", "-publish-key", testKey, "-segment", "1s"}
	env := []string{"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret}
	base := "http://" + httpAddr
	call := func(method, path, body string) (int, map[string]any) {
		return apiURL(t, base+path, "test-admin-token", method, body)
	}
	segments := func() int {
		_, body, _ := getQuiet(base + "/live/main/index.m3u8")
		return strings.Count(string(body), "#EXTINF")
	}
	waitSegs := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); segments() < n; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d live segments", n)
			}
		}
	}

	salon := runSalon(t, httpAddr, env, args...)
	pub := startProc(t, "ffmpeg", ffmpegArgs("", srcVideo, srcAudio, encH264, encAAC,
		rtspOut(fmt.Sprintf("rtsp://%s/live/main?key=%s", rtspAddr, testKey)))...)
	waitSegs(2)
	if code, m := call("POST", "/api/talks", `{"id":"kill","title":"直到最后一刻","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := call("POST", "/api/talks/kill/start", ""); code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws/chat/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	wsRead(t, ws, "welcome")
	for _, text := range []string{"第一条", "second"} {
		ws.WriteJSON(map[string]string{"type": "chat", "text": text})
		if m := wsRead(t, ws, "chat"); m["text"] != text {
			t.Fatalf("chat frame %v", m)
		}
	}
	code, link := call("POST", "/api/talks/kill/speaker-link", "")
	if code != 201 {
		t.Fatalf("speaker link: %d %v", code, link)
	}
	token := link["token"].(string)
	for _, page := range []int{2, 3} {
		if code, m := apiURL(t, base+"/api/talks/kill/slide", token, "POST", fmt.Sprintf(`{"page":%d}`, page)); code != 200 {
			t.Fatalf("slide %d: %d %v", page, code, m)
		}
		wsRead(t, ws, "slide")
	}
	// What survives a crash is what reached the chat's journal (fsynced in
	// 500 ms batches): wait until the last page change is there.
	journal := filepath.Join(data, "chat", "main.jsonl")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(journal); bytes.Contains(b, []byte(`"page":3`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the chat journal never got the page change")
		}
	}
	waitSegs(segments() + 2)

	if code, m := call("POST", "/api/talks/kill/stop", ""); code != 200 {
		t.Fatalf("stop: %d %v", code, m)
	}
	if err := salon.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-salon.done
	pub.kill()
	_, spooled := os.Stat(filepath.Join(data, "programme", "jobs", "kill.json"))
	t.Logf("end-of-talk job left in the spool by the kill: %v", spooled == nil)

	runSalon(t, httpAddr, env, args...)
	jsonl := waitArchived(t, base+"/archive/talks/kill/chat.jsonl", 60*time.Second)
	if !strings.Contains(string(jsonl), "第一条") || !strings.Contains(string(jsonl), "second") {
		t.Fatalf("chat.jsonl:\n%s", jsonl)
	}
	vtt := waitArchived(t, base+"/archive/talks/kill/slides.vtt", 60*time.Second)
	if !strings.HasPrefix(string(vtt), "WEBVTT") || !strings.Contains(string(vtt), "Slide 2") || !strings.Contains(string(vtt), "Slide 3") {
		t.Fatalf("slides.vtt:\n%s", vtt)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, pl, _ := getQuiet(base + "/archive/talks/kill/index.m3u8")
		if strings.Contains(string(pl), "#EXT-X-ENDLIST") && strings.Contains(string(pl), ".m4s") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final cut after the restart:\n%s", pl)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if entries, _ := os.ReadDir(filepath.Join(data, "programme", "jobs")); len(entries) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job spool is not empty after the work was done")
		}
	}
}

// TestProgramme_NextAndAuto drives the day through the HTTP API: Next, auto
// mode, their refusals, and the talk frame every viewer gets at once.
func TestProgramme_NextAndAuto(t *testing.T) {
	a := testApp(t)
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	for _, body := range []string{
		`{"id":"n1","title":"第一个","stage":"main","starts_at":"` + ts(time.Hour) + `","ends_at":"` + ts(2*time.Hour) + `"}`,
		`{"id":"n2","title":"第二个","stage":"main","starts_at":"` + ts(2*time.Hour) + `","ends_at":"` + ts(3*time.Hour) + `"}`,
		`{"id":"soon","title":"Soon","stage":"side","starts_at":"` + ts(2*time.Second) + `","ends_at":"` + ts(time.Hour) + `"}`,
	} {
		if code, m := api(t, a, "POST", "/api/talks", body); code != 201 {
			t.Fatalf("create %s: %d %v", body, code, m)
		}
	}
	viewer := func(stage string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/"+stage, nil)
		if err != nil {
			t.Fatalf("chat of %s: %v", stage, err)
		}
		t.Cleanup(func() { c.Close() })
		wsRead(t, c, "welcome")
		return c
	}
	talkFrame := func(c *websocket.Conn) string {
		t.Helper()
		f := wsRead(t, c, "talk")
		tk, _ := f["talk"].(map[string]any)
		id, _ := tk["id"].(string)
		return id
	}
	main, side := viewer("main"), viewer("side")

	refusals := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"next without the token", "POST", "/api/stages/main/next", "", "", 401},
		{"next with a wrong token", "POST", "/api/stages/main/next", "wrong", "", 401},
		{"auto without the token", "PUT", "/api/stages/main/auto", "", `{"on":true}`, 401},
		{"next on an unknown stage", "POST", "/api/stages/nowhere/next", a.adminToken, "", 404},
		{"auto on an unknown stage", "PUT", "/api/stages/nowhere/auto", a.adminToken, `{"on":true}`, 404},
		{"auto with a bad body", "PUT", "/api/stages/main/auto", a.adminToken, `{"on":"yes"}`, 400},
	}
	for _, r := range refusals {
		if code, m := apiURL(t, a.httpURL(r.path), r.token, r.method, r.body); code != r.want {
			t.Errorf("%s: %d %v, want %d", r.name, code, m, r.want)
		}
	}
	if _, ok := a.library.LiveOn("main"); ok {
		t.Fatal("a refused request started a talk")
	}

	// Next, Next, and no next talk.
	code, m := api(t, a, "POST", "/api/stages/main/next", "")
	if started, _ := m["started"].(map[string]any); code != 200 || started["id"] != "n1" || m["stopped"] != nil {
		t.Fatalf("first next: %d %v", code, m)
	}
	if id := talkFrame(main); id != "n1" {
		t.Fatalf("talk frame after Next: %q", id)
	}
	code, m = api(t, a, "POST", "/api/stages/main/next", "")
	if stopped, _ := m["stopped"].(map[string]any); code != 200 || stopped["id"] != "n1" {
		t.Fatalf("second next: %d %v", code, m)
	}
	if id := talkFrame(main); id != "n2" {
		t.Fatalf("talk frame after the second Next: %q (viewers must go from one talk to the next in one frame)", id)
	}
	if code, m := api(t, a, "POST", "/api/stages/main/next", ""); code != 409 || !strings.Contains(fmt.Sprint(m["error"]), "no next talk") {
		t.Fatalf("next with none left: %d %v", code, m)
	}

	// Auto: the schedule starts "soon" at its time, and side's viewers see it.
	if code, m := api(t, a, "PUT", "/api/stages/side/auto", `{"on":true}`); code != 200 || m["auto"] != true {
		t.Fatalf("auto on: %d %v", code, m)
	}
	if id := talkFrame(side); id != "soon" {
		t.Fatalf("talk frame of the auto start: %q", id)
	}
	code, day := api(t, a, "GET", "/api/programme", "")
	stages, _ := day["stages"].([]any)
	if code != 200 || len(stages) != 2 {
		t.Fatalf("programme: %d %v", code, day)
	}
	for _, s := range stages {
		sd := s.(map[string]any)
		live, _ := sd["live"].(map[string]any)
		switch sd["stage"] {
		case "main":
			if sd["auto"] != false || live["id"] != "n2" || sd["next"] != nil || len(sd["talks"].([]any)) != 2 {
				t.Errorf("main in the programme: %v", sd)
			}
		case "side":
			if sd["auto"] != true || live["id"] != "soon" {
				t.Errorf("side in the programme: %v", sd)
			}
		}
	}
}

// TestProgramme_ChatRoomsNotExhausted is hardening finding 4 against a real
// salon: websockets to 64 made-up stages from one address get 404 and leave
// no journal, and a stage with talks still has its chat.
func TestProgramme_ChatRoomsNotExhausted(t *testing.T) {
	a := testApp(t)
	if code, m := api(t, a, "POST", "/api/talks", `{"id":"real","title":"Real","stage":"main"}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	for i := range 64 {
		_, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/ws/chat/junk-%d", a.web.Addr(), i), nil)
		if err == nil || resp == nil || resp.StatusCode != 404 {
			t.Fatalf("junk-%d: %v %v, want 404", i, err, resp)
		}
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+a.web.Addr()+"/ws/chat/main", nil)
	if err != nil {
		t.Fatalf("the chat of a stage with talks after the junk: %v", err)
	}
	defer c.Close()
	wsRead(t, c, "welcome")
	entries, _ := os.ReadDir(filepath.Join(a.cfg.Data, "chat"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "junk") {
			t.Fatalf("journal %s left for a made-up stage", e.Name())
		}
	}
}
