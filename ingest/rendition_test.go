package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/salon/salon/ingest/stream"
)

// TestServers_RenditionBusy publishes a rendition over RTMP (the OBS stream
// key form {stage}/{rendition}?key=…), then refuses a second publisher on
// that rendition over RTSP and over RTMP, while the stage's source path
// stays free.
func TestServers_RenditionBusy(t *testing.T) {
	reg, rec := newTestRegistry(t)
	rtsp := startRTSP(t, reg)
	rtmp := startRTMP(t, reg)
	publish := func(seconds string, out ...string) *ffmpegCmd {
		args := testInputs(true, false, 0)
		args = append(args, "-t", seconds)
		args = append(args, x264()...)
		return startFFmpeg(t, append(args, out...)...)
	}
	first := publish("30", "-f", "flv", fmt.Sprintf("rtmp://%s/live/main/360p?key=%s", rtmp.Addr(), testKey))
	evs := rec.waitFor(t, "units of the rendition", func(evs []stream.Event) bool { return len(evs) > 10 })
	if ev := evs[0]; ev.Start == nil || ev.Stage != "main" || ev.Rendition != "360p" || ev.Start.Rendition != "360p" {
		t.Fatalf("first event %+v, want the start of main/360p", ev)
	}
	if !reg.PathLive("main", "360p") || reg.PathLive("main", "") {
		t.Fatal("the rendition should be live and the source free")
	}

	seconds := []*ffmpegCmd{
		publish("2", "-f", "rtsp", "-rtsp_transport", "tcp", rtspURL(rtsp, "main/360p", testKey)),
		publish("2", "-f", "flv", fmt.Sprintf("rtmp://%s/live/main/360p?key=%s", rtmp.Addr(), testKey)),
	}
	for i, second := range seconds {
		if err := second.wait(t); err == nil {
			t.Errorf("second publisher %d on a live rendition was accepted:\n%s", i, second.stderr.String())
		}
		if !strings.Contains(second.stderr.String(), "rendition 360p of stage main already has a publisher") {
			t.Errorf("second publisher %d was not told why:\n%s", i, second.stderr.String())
		}
	}
	before := len(rec.snapshot())
	rec.waitFor(t, "more units from the first publisher", func(evs []stream.Event) bool { return len(evs) > before+10 })
	first.kill()
	evs = rec.waitFor(t, "the end of the publish", func(evs []stream.Event) bool { return count(evs, isEnd) > 0 })
	if n := count(evs, isStart); n != 1 {
		t.Errorf("%d publishes, want 1", n)
	}
	for _, ev := range evs {
		if ev.Rendition != "360p" {
			t.Fatalf("event of rendition %q, want every event on 360p", ev.Rendition)
		}
	}
}
