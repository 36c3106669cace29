package nodes

import (
	"context"
	"io"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/hls/playlist"
	"github.com/salon/salon/internal/nodetest"
	"github.com/salon/salon/internal/testkit"
)

// publish runs ffmpeg publishing a live test picture and tone to the
// node's stage main over RTMP, with a keyframe every second.
func publish(t *testing.T, n *nodetest.Node) *testkit.Process {
	return testkit.StartFFmpeg(t,
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
		"-c:a", "aac", "-b:a", "64k",
		"-f", "flv", n.RTMPURL("main"))
}

// The node that ingests a talk's stage is killed while ffmpeg publishes.
// The publisher, started again against the other node (as an encoder
// reconnects through the load balancer), is refused while the dead node's
// lease lasts and accepted once it expired; the talk's replay in the
// bucket then holds both runs, with an EXT-X-DISCONTINUITY between them,
// and misses only the seconds the publisher was away.
func TestNodes_ingestNodeKilled(t *testing.T) {
	t.Parallel()
	ffprobe := testkit.Tool(t, "ffprobe")
	d := nodetest.Start(t, nodetest.Options{Nodes: 2, Setup: createTalk(t, "keynote"), Args: []string{"-segment", "1s"}})
	a, b := d.Node(0), d.Node(1)
	if code, m := b.API("POST", "/api/talks/keynote/start", ""); code != 200 {
		t.Fatalf("start the talk on node B: %d %v", code, m)
	}
	talkStart := time.Now()

	first := publish(t, a)
	waitSegments(t, d.Bucket, 4)
	a.Kill()
	killed := time.Now()
	if err := first.Wait(t, 30*time.Second); err == nil {
		t.Error("ffmpeg publishing to the killed node exited cleanly")
	}

	// The encoder reconnects to node B every half second until B takes
	// the stage: A's lease expires (it cannot be released by a dead node).
	second := takeStage(t, b, "node A's death")
	away := time.Since(killed)
	t.Logf("publisher back on node B %v after node A was killed", away.Round(100*time.Millisecond))

	// Five seconds more of the talk on B, then it stops (through B).
	waitSegments(t, d.Bucket, 5)
	if code, m := b.API("POST", "/api/talks/keynote/stop", ""); code != 200 {
		t.Fatalf("stop the talk on node B: %d %v", code, m)
	}
	talkEnd := time.Now()
	replay := waitReplay(t, d.Bucket, "keynote")
	second.Cmd.Process.Kill()

	// Both runs, a discontinuity where the second begins; each run without
	// holes (by its program date-times), the first reaching the kill, the
	// hole between them no longer than the time away, the second reaching
	// the stop.
	// A segment being cut and uploaded when A died, the first keyframe on
	// B: seconds, more on a busy machine.
	const slack = 5 * time.Second
	var covered time.Duration
	var runs []string
	var runEnd []time.Time // per run, where its last segment ends
	var holeStart, holeEnd time.Time
	for _, s := range replay.Segments {
		covered += s.Duration
		if s.DateTime.IsZero() {
			t.Fatalf("segment %s has no EXT-X-PROGRAM-DATE-TIME", s.URI)
		}
		run := path.Dir(s.URI)
		switch {
		case len(runs) == 0:
			runs = append(runs, run)
			runEnd = append(runEnd, time.Time{})
		case runs[len(runs)-1] != run:
			if !s.Discontinuity {
				t.Errorf("segment %s starts run %s without EXT-X-DISCONTINUITY", s.URI, run)
			}
			holeStart, holeEnd = runEnd[len(runEnd)-1], s.DateTime
			runs = append(runs, run)
			runEnd = append(runEnd, time.Time{})
		default:
			if d := s.DateTime.Sub(runEnd[len(runEnd)-1]); d > 500*time.Millisecond || d < -500*time.Millisecond {
				t.Errorf("segment %s starts %v after the one before it ends, in one run", s.URI, d)
			}
		}
		runEnd[len(runEnd)-1] = s.DateTime.Add(s.Duration)
	}
	if len(runs) != 2 {
		t.Fatalf("replay of runs %v; want node A's run, then node B's", runs)
	}
	if hole := holeEnd.Sub(holeStart); hole < 0 || hole > away+slack {
		t.Errorf("the replay misses %v between the runs; the publisher was away %v", hole, away)
	}
	if runEnd[0].Before(killed.Add(-slack)) {
		t.Errorf("node A's run ends %v before node A was killed", killed.Sub(runEnd[0]))
	}
	if runEnd[1].Before(talkEnd.Add(-slack)) {
		t.Errorf("the replay ends %v before the talk was stopped", talkEnd.Sub(runEnd[1]))
	}
	t.Logf("replay: %d segments, %v of a %v talk; %v missing between the runs, the publisher away %v", len(replay.Segments),
		covered.Round(time.Millisecond), talkEnd.Sub(talkStart).Round(time.Millisecond), holeEnd.Sub(holeStart).Round(time.Millisecond), away.Round(time.Millisecond))

	// ffprobe reads the replay through node B's archive window.
	out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
		b.URL()+"/archive/talks/keynote/index.m3u8").CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe of the replay: %v\n%s", err, out)
	}
	dur, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || time.Duration(dur*float64(time.Second)) < covered-2*time.Second {
		t.Errorf("ffprobe: duration %q, want about %v", out, covered)
	}
}

// waitSegments waits until the bucket holds n more media segments of
// stage main than when it was called.
func waitSegments(t *testing.T, bucket archive.Store, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	count := func() int {
		objs, _ := bucket.List(ctx, "stages/main/")
		c := 0
		for _, o := range objs {
			if strings.HasSuffix(o.Key, ".m4s") {
				c++
			}
		}
		return c
	}
	before := count()
	for {
		c := count()
		if c-before >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the bucket has %d new segments of stage main after a minute, want %d", c-before, n)
		case <-time.After(200 * time.Millisecond): // nothing announces an upload
		}
	}
}

// waitReplay waits for the talk's final replay playlist (EXT-X-ENDLIST) in
// the bucket and parses it.
func waitReplay(t *testing.T, bucket archive.Store, id string) *playlist.Media {
	t.Helper()
	key := "talks/" + id + "/index.m3u8"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		rc, _, err := bucket.Get(ctx, key, 0, -1)
		if err == nil {
			b, rerr := io.ReadAll(rc)
			rc.Close()
			if rerr == nil {
				m, perr := playlist.ParseMedia(b)
				if perr != nil {
					t.Fatalf("%s does not parse: %v\n%s", key, perr, b)
				}
				if m.Ended {
					return m
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no final %s in the bucket within 2 minutes (last error %v)", key, err)
		case <-time.After(200 * time.Millisecond): // nothing announces the upload
		}
	}
}
